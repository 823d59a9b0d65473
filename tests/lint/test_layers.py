"""The house's layers: imports only point down, and there is no import cycle.

    charms/<name>/src            (each charm; imports any layer below)
    charmarr_servarr             (Servarr client, *arr charm base)
    charmarr_common              (shared charm code)
    charmarr_interfaces          (the contract)

The test kit (``charmarr_testing``) sits beside the charms, above every runtime package,
and imports no charm; nothing in a runtime package or a charm imports the test kit.
Every import counts, including those inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from stage import imports_of  # noqa: E402 (tools/ is not a package)

PACKAGES = {
    "charmarr_interfaces": ROOT / "interfaces" / "src" / "charmarr_interfaces",
    "charmarr_common": ROOT / "common" / "src" / "charmarr_common",
    "charmarr_servarr": ROOT / "servarr" / "src" / "charmarr_servarr",
    "charmarr_testing": ROOT / "testing" / "src" / "charmarr_testing",
}
RANK = {
    "charmarr_interfaces": 0,
    "charmarr_common": 1,
    "charmarr_servarr": 2,
    "charmarr_testing": 3,
}
CHARM_PACKAGES = {f"_{d.name}" for d in (ROOT / "charms").iterdir() if (d / "src").is_dir()}


def _module_name(package: str, path: Path) -> str:
    parts = path.relative_to(PACKAGES[package]).with_suffix("").parts
    return ".".join([package, *(p for p in parts if p != "__init__")])


def _graph() -> dict[str, set[str]]:
    modules: dict[str, Path] = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            modules[_module_name(package, path)] = path
    return {
        name: {other for other in imports_of(path, name) if other in modules and other != name}
        for name, path in modules.items()
    }


def _all_imports() -> dict[str, set[str]]:
    out = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            name = _module_name(package, path)
            out[name] = imports_of(path, name)
    return out


def test_the_packages_exist_and_are_scanned():
    graph = _graph()
    assert {name.split(".")[0] for name in graph} == set(PACKAGES)
    assert len(graph) > 40


def test_no_import_cycle():
    graph = _graph()
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycle = [*path[path.index(node) :], node]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if node in done:
            return
        for nxt in sorted(graph[node]):
            visit(nxt, [*path, node])
        done.add(node)

    for start in sorted(graph):
        visit(start, [])


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_imports_only_point_down(package):
    wrong = {}
    for module, imported in _all_imports().items():
        if not module.startswith(package + ".") and module != package:
            continue
        for name in imported:
            top = name.split(".")[0]
            if top in RANK and RANK[top] > RANK[package]:
                wrong.setdefault(module, set()).add(name)
            if (
                top in CHARM_PACKAGES
                or top in {"charm", "charms_under_test"}
                or top.endswith("_wired")
            ):
                wrong.setdefault(module, set()).add(name)
    assert not wrong, f"{package} imports upward or a charm: {wrong}"


def test_no_charm_imports_the_test_kit():
    offenders = []
    for path in ROOT.glob("charms/*/src/**/*.py"):
        imported = imports_of(path, path.stem)
        if any(name.split(".")[0] == "charmarr_testing" for name in imported):
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders
