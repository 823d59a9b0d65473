"""sonarr-k8s against the media managers' shared behaviour suite (servarr/tests)."""

from media_manager_suite import *  # noqa: F403 (the shared tests and their fixtures)
