"""sonarr-k8s: only its table. Every behaviour runs against both media managers in
the shared suites in servarr/tests, which this folder runs (test_media_manager.py).
"""

from __future__ import annotations

from charms_under_test import load_charm

from charmarr_servarr import api as servarr
from charmarr_servarr.arr import MediaManagerCharm


def test_sonarr_differs_from_radarr_only_by_its_table():
    mine, theirs = load_charm("sonarr"), load_charm("radarr")
    assert mine.__bases__ == theirs.__bases__ == (MediaManagerCharm,)
    assert {k for k in vars(mine) if not k.startswith("__")} == {"servarr"}
    assert (mine.servarr, theirs.servarr) == (servarr.SONARR, servarr.RADARR)
    table = servarr.SONARR
    assert (table.port, table.category_field, table.root_folder, table.kind) == (
        8989,
        "tvCategory",
        "/data/tv",
        "sonarr",
    )


def test_prowlarr_syncs_sonarr_categories():
    desired = servarr.prowlarr_application(
        servarr.SONARR,
        name="sonarr (juju)",
        prowlarr_url="http://p:9696",
        base_url="http://x:8989",
        credentials={"api-key": "k" * 32},
    )
    assert desired.payload["implementation"] == "Sonarr"
    assert servarr.field_values(desired.payload)["syncCategories"][0] == 5000
