#!/usr/bin/env python3
"""Radarr: movies/series manager, wired to Prowlarr, download clients and Plex by secret ID.

All logic is shared with the other media manager (charmarr_servarr.arr); this charm
only binds it to Radarr's constants (charmarr_servarr.api.RADARR).
"""

from __future__ import annotations

from typing import ClassVar

import ops

from charmarr_servarr.api import RADARR, MediaManager
from charmarr_servarr.arr import MediaManagerCharm


class RadarrCharm(MediaManagerCharm):
    """Radarr on Kubernetes."""

    servarr: ClassVar[MediaManager] = RADARR


if __name__ == "__main__":  # pragma: nocover
    ops.main(RadarrCharm)
