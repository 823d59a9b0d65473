"""Helpers of the plex-k8s charm: the Pebble layer, Preferences.xml and the claim with plex.tv."""
