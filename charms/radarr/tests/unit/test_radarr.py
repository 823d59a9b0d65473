"""radarr-k8s: only its table. Every behaviour runs against both media managers in
interfaces/tests/test_media_managers.py, because both charms are the same code.
"""

from __future__ import annotations

from charmarr_interfaces import servarr
from charmarr_interfaces.arr import MediaManagerCharm
from charmarr_interfaces.testing.charms import load_charm


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
        api_key="k" * 32,
    )
    assert desired.payload["implementation"] == "Radarr"
    assert servarr.field_values(desired.payload)["syncCategories"][0] == 2000
