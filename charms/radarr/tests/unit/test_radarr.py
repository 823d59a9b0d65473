"""radarr-k8s: only its table. Every behaviour runs against both media managers in
the shared suites in servarr/tests, which this folder runs (test_media_manager.py).
"""

from __future__ import annotations

from charms_under_test import load_charm

from charmarr_servarr import api as servarr
from charmarr_servarr.arr import MediaManagerCharm


def test_radarr_differs_from_sonarr_only_by_its_table():
    mine, theirs = load_charm("radarr"), load_charm("sonarr")
    assert mine.__bases__ == theirs.__bases__ == (MediaManagerCharm,)
    assert {k for k in vars(mine) if not k.startswith("__")} == {"servarr"}
    assert (mine.servarr, theirs.servarr) == (servarr.RADARR, servarr.SONARR)
    table = servarr.RADARR
    assert (table.port, table.category_field, table.root_folder, table.kind) == (
        7878,
        "movieCategory",
        "/data/movies",
        "radarr",
    )


def test_prowlarr_syncs_radarr_categories():
    desired = servarr.prowlarr_application(
        servarr.RADARR,
        name="radarr (juju)",
        prowlarr_url="http://p:9696",
        base_url="http://x:7878",
        credentials={"api-key": "k" * 32},
    )
    assert desired.payload["implementation"] == "Radarr"
    assert servarr.field_values(desired.payload)["syncCategories"][0] == 2000
