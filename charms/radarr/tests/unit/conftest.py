"""radarr-k8s runs the media managers' shared suites (servarr/tests) with its own table."""

import pytest

from charmarr_servarr.api import RADARR, MediaManager


@pytest.fixture
def media_manager() -> MediaManager:
    """The table the shared suites run against."""
    return RADARR
