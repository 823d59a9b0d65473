"""Every status a charm can set is in the guide, at one level, with its fix.

The catalogue (``charmarr_common.statuses``) is the guide's table: README.md must hold
exactly what it generates. Every status text the charms and the shared package build
(each ``CharmarrError``-family exception, each ``ops`` status and each Active note, found
by reading the source) must fit an entry; and every status a charm actually set during
the test run is checked against the catalogue, level included, at the end of the session
(``charmarr_testing.pytest_plugin``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import ops
import pytest
from charms_under_test import repo_root

from charmarr_common import statuses
from charmarr_testing.pytest_plugin import unexplained_statuses

ROOT = repo_root()
STATUS_CLASSES = {"ActiveStatus", "BlockedStatus", "WaitingStatus", "MaintenanceStatus"}
NOTE_LISTS = {"notes", "_notes"}


def _sources() -> list[Path]:
    shared = [
        *ROOT.glob("interfaces/src/**/*.py"),
        *ROOT.glob("common/src/**/*.py"),
        *ROOT.glob("servarr/src/**/*.py"),
    ]
    return sorted([*shared, *ROOT.glob("charms/*/src/**/*.py")])


def _error_classes(trees: list[ast.Module]) -> set[str]:
    bases: dict[str, list[str]] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]

    def is_error(name: str) -> bool:
        return name == "CharmarrError" or any(is_error(b) for b in bases.get(name, ()))

    return {name for name in bases if is_error(name)}


def _sample(node: ast.expr) -> str | None:
    """The literal text of a message, each ``{…}`` as ``\\x00``; None if not literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "\x00" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _sample(node.left), _sample(node.right)
        return None if left is None or right is None else left + right
    return None


def _built_statuses() -> list[tuple[str, str]]:
    """(where, sample) for every literal status text in the source."""
    parsed = {path: ast.parse(path.read_text()) for path in _sources()}
    builders = _error_classes(list(parsed.values())) | STATUS_CLASSES
    found = []
    for path, tree in parsed.items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            is_note = (
                name in ("append", "insert")
                and isinstance(func, ast.Attribute)
                and ast.unparse(func.value).rsplit(".", 1)[-1] in NOTE_LISTS
            )
            if name in builders or is_note:
                sample = _sample(node.args[1 if name == "insert" else 0])
                if sample is not None:
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}", sample))
    return found


def test_the_source_builds_statuses_and_the_scan_sees_them():
    built = _built_statuses()
    assert len(built) > 100
    assert any("invalid data from" in s or "waiting for \x00 to publish" in s for _, s in built)


@pytest.mark.parametrize(("where", "sample"), _built_statuses())
def test_every_status_the_source_builds_is_in_the_catalogue(where, sample):
    assert statuses.explains_text(sample), (
        f"{where} sets {sample.replace(chr(0), '{…}')!r}, which the guide does not explain: "
        "add it to common/src/charmarr_common/statuses.py and regenerate README.md's table"
    )


def test_the_guide_shows_the_catalogue():
    readme = (ROOT / "README.md").read_text()
    assert statuses.guide_table() in readme, (
        "README.md's status table is stale: python -m charmarr_common.statuses"
    )


def test_a_status_outside_the_catalogue_is_caught_and_levels_are_checked():
    assert statuses.explain("blocked", "invalid data from radarr on media-indexer: url: bad")
    assert statuses.explain("waiting", "invalid data from radarr on media-indexer: url: x") is None
    assert statuses.explain("active", "categories: radarr, sonarr; via VPN 203.0.113.7")
    assert statuses.explain("blocked", "something nobody documented") is None
    assert statuses.explains_text("something \x00 nobody documented") is None
    seen = {("blocked", "something nobody documented"), ("active", "ready")}
    assert unexplained_statuses(seen) == [("blocked", "something nobody documented")]


def test_status_levels_are_ops_levels():
    names = {ops.ActiveStatus.name, ops.BlockedStatus.name, ops.WaitingStatus.name}
    assert {level for e in statuses.CATALOGUE for level in e.levels} <= names


def test_the_guide_names_user_secrets_as_the_statuses_do():
    import re

    readme = (ROOT / "README.md").read_text()
    # read_user_secret's hint: juju add-secret <app>-<option> (the apps as the bundle names them)
    hinted = {"gluetun-credentials-secret", "plex-claim-token-secret"}
    named = set(re.findall(r"juju (?:add|grant)-secret ([a-z][a-z0-9-]+) ", readme))
    assert named == hinted
