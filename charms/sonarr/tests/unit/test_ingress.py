"""sonarr-k8s against the shared ingress suite (servarr/tests)."""

from ingress_suite import *  # noqa: F403 (the shared tests and their fixtures)
