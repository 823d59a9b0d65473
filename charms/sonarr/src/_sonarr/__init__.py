"""Charm-only helpers of sonarr-k8s (none: everything is shared with the other *arr charm)."""
