#!/usr/bin/env python3
"""Sonarr: movies/series manager, wired to Prowlarr, download clients and Plex by secret ID.

All logic is shared with the other media manager (charmarr_servarr.arr); this charm
only binds it to Sonarr's constants (charmarr_servarr.api.SONARR).
"""

from __future__ import annotations

from typing import ClassVar

import ops

from charmarr_servarr.api import SONARR, MediaManager
from charmarr_servarr.arr import MediaManagerCharm


class SonarrCharm(MediaManagerCharm):
    """Sonarr on Kubernetes."""

    servarr: ClassVar[MediaManager] = SONARR


if __name__ == "__main__":  # pragma: nocover
    ops.main(SonarrCharm)
