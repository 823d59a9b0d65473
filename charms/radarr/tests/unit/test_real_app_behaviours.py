"""radarr-k8s against the shared suite of what the real *arr apps do (servarr/tests)."""

from arr_behaviour_suite import *  # noqa: F403 (the shared tests and their fixtures)
