"""Find and load the charms under ``charms/`` so several can be tested in one process.

Repository test support, not part of the test kit (``charmarr_testing`` never imports a
charm). Every charm's code is ``src/charm.py``; its helpers live in a uniquely named
package ``src/_<name>/``. So each charm's ``src`` can share ``sys.path``, and ``charm.py``
is imported under a unique module name. Each charm's wired state is
``charms/<name>/tests/<name>_wired.py`` (``wired_state(network, *, leader=True) ->
(State, own_fake)``: every endpoint related, user secrets granted, its workload's fake on
``network``; one ``update-status`` from it ends Active).
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from functools import cache
from pathlib import Path
from typing import Any

import ops
from ops import testing


def repo_root(start: Path | None = None) -> Path:
    """The repository root: the nearest parent with ``charms/`` and ``interfaces/``."""
    here = (start or Path(__file__)).resolve()
    for parent in [here, *here.parents]:
        if (parent / "charms").is_dir() and (parent / "interfaces").is_dir():
            return parent
    raise FileNotFoundError("not inside the Charmarr repository")


def charm_dirs(root: Path | None = None) -> dict[str, Path]:
    """Every charm directory, by short name (``radarr``, ...), sorted."""
    base = (root or repo_root()) / "charms"
    return {d.name: d for d in sorted(base.iterdir()) if (d / "src" / "charm.py").is_file()}


@cache
def load_charm(name: str, root: Path | None = None) -> type[ops.CharmBase]:
    """Import ``charms/<name>/src/charm.py`` and return the charm class defined there."""
    charm_dir = charm_dirs(root)[name]
    src = str(charm_dir / "src")
    if src not in sys.path:
        sys.path.append(src)
    module_name = f"_charmarr_charm_{name}"
    spec = importlib.util.spec_from_file_location(module_name, charm_dir / "src" / "charm.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    classes = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, ops.CharmBase)
        and obj.__module__ == module_name
    ]
    if len(classes) != 1:
        raise LookupError(f"{charm_dir}/src/charm.py must define exactly one charm class")
    return classes[0]


@cache
def _charmcraft(name: str) -> dict[str, Any]:
    import yaml

    return yaml.safe_load((charm_dirs()[name] / "charmcraft.yaml").read_text())


def context(name: str, **kwargs: Any) -> testing.Context[ops.CharmBase]:
    """An ``ops.testing.Context`` for the charm ``name``, from its ``charmcraft.yaml``.

    The metadata, config and actions are passed in rather than read from the charm's
    directory: given only ``charm_root``, ``ops.testing`` writes ``metadata.yaml`` and
    friends into it for the run, which races with other test processes.
    """
    raw = _charmcraft(name)
    meta = {k: v for k, v in raw.items() if k not in ("config", "actions")}
    return testing.Context(
        load_charm(name),
        meta=meta,
        config=raw.get("config") or {"options": {}},
        actions=raw.get("actions") or {},
        **kwargs,
    )


def wired_module(name: str) -> Any:
    """``charms/<name>/tests/<name>_wired.py``, imported with the charm's ``src`` on the path."""
    load_charm(name)
    tests = str(charm_dirs()[name] / "tests")
    if tests not in sys.path:
        sys.path.append(tests)
    return importlib.import_module(f"{name}_wired")


def wired_state(name: str, network: Any, *, leader: bool = True) -> tuple[Any, Any]:
    """Charm ``name``'s wired input state and its own workload fake."""
    return wired_module(name).wired_state(network, leader=leader)
