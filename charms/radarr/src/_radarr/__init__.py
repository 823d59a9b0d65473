"""Charm-only helpers of radarr-k8s (none: everything is shared with the other *arr charm)."""
