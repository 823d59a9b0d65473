"""Each charm, laid out as ``charmcraft pack`` lays it out, runs its hooks through ``./dispatch``.

What users run is the packed charm, so this builds each one with charmcraft's own charm
builder (``charmcraft.charm_builder.CharmBuilder``: the files kept by ``.jujuignore``, the
generated ``dispatch``, ``metadata.yaml``/``config.yaml``/``actions.yaml`` rendered from
``charmcraft.yaml`` as the pack service does) and its runtime dependencies from the same
locked requirements ``tox -e pack`` stages. Then ``./dispatch`` runs install,
config-changed and update-status with stand-in hook tools (``juju_tools.py``) on PATH and
a Python that sees nothing but ``lib:venv`` (Juju's system Python has no site-packages of
ours). It fails on a missing execute bit (exit 126), a missing dependency, an import that
only works from the source tree, or any hook error.

The dependencies are installed from wheels with uv rather than by the builder's
``pip --no-binary`` step (minutes per charm); they are copied to ``venv/`` exactly where the
builder puts them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from charms_under_test import charm_dirs, repo_root

HERE = Path(__file__).resolve().parent
ROOT = repo_root(HERE)
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(HERE))

import juju_tools  # noqa: E402
import stage  # noqa: E402

HOOKS = ("install", "leader-elected", "config-changed", "start", "update-status")
SETTLED = {"active", "waiting", "blocked", "maintenance"}


def _render_metadata(charm_dir: Path, into: Path) -> dict:
    """metadata.yaml, config.yaml and actions.yaml as charmcraft's pack service writes them."""
    from charmcraft.models.metadata import CharmMetadata
    from charmcraft.models.project import CharmcraftProject
    from charmcraft.parts import setup_parts

    setup_parts()  # registers the charm plugin, as charmcraft does at start-up

    raw = yaml.safe_load((charm_dir / "charmcraft.yaml").read_text())
    project = CharmcraftProject.unmarshal(raw)
    (into / "metadata.yaml").write_text(
        yaml.safe_dump(CharmMetadata.from_charm(project).marshal(), sort_keys=True)  # type: ignore[arg-type]
    )
    for key in ("config", "actions"):
        if raw.get(key):
            (into / f"{key}.yaml").write_text(yaml.safe_dump(raw[key]))
    return raw


def _build(name: str, work: Path) -> tuple[Path, dict]:
    """The charm as packed: (its root, its charmcraft.yaml)."""
    from charmcraft.charm_builder import CharmBuilder

    source = work / "source"
    shutil.copytree(charm_dirs()[name], source, ignore=shutil.ignore_patterns("__pycache__"))
    stage.stage(name, source)
    runtime = work / "runtime"
    stage.build_runtime(name, runtime)
    prime = work / "prime"
    builder = CharmBuilder(
        builddir=source,
        installdir=prime,
        entrypoint=source / "src" / "charm.py",
        requirements=[source / "requirements.txt"],
        strict_dependencies=True,
    )
    prime.mkdir()
    entrypoint = builder.handle_generic_paths()
    builder.handle_dispatcher(entrypoint)
    site = next(runtime.glob("venv/lib/python*/site-packages"))
    shutil.copytree(site, prime / "venv")
    raw = _render_metadata(source, prime)
    return prime, raw


def _tools(into: Path) -> Path:
    """A directory with one executable per stand-in hook tool and a bare ``python3``."""
    into.mkdir()
    script = HERE / "juju_tools.py"
    for tool in juju_tools.TOOLS:
        path = into / tool
        path.write_text(f'#!/bin/sh\nexec {sys.executable} -I {script} {tool} "$@"\n')
        path.chmod(0o755)
    # Juju runs the charm with the base's python3: no site-packages, only PYTHONPATH.
    python = into / "python3"
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    python.write_text(f'#!/bin/sh\nexec {base} -S "$@"\n')
    python.chmod(0o755)
    return into


def _defaults(raw: dict) -> dict:
    options = (raw.get("config") or {}).get("options") or {}
    return {k: v["default"] for k, v in options.items() if "default" in v}


@pytest.fixture(scope="module", params=sorted(charm_dirs()))
def packed(request, tmp_path_factory):
    work = tmp_path_factory.mktemp(f"packed-{request.param}")
    prime, raw = _build(request.param, work)
    return request.param, prime, raw, _tools(work / "bin")


def test_the_packed_charm_ships_no_tests_and_an_executable_entrypoint(packed):
    _, prime, _, _ = packed
    assert os.access(prime / "src" / "charm.py", os.X_OK), "dispatch execs src/charm.py"
    assert os.access(prime / "dispatch", os.X_OK)
    assert not (prime / "tests").exists(), ".jujuignore keeps the tests out"
    assert (prime / "lib" / "charmarr_interfaces").is_dir()
    assert not (prime / "lib" / "charmarr_interfaces" / "testing").exists()


@pytest.mark.parametrize("leader", [True, False])
def test_dispatch_runs_every_hook_to_a_status(packed, tmp_path, leader):
    name, prime, raw, tools = packed
    charm = tmp_path / "charm"
    shutil.copytree(prime, charm, symlinks=True)
    model_file = tmp_path / "juju.json"
    model = juju_tools.new_model(leader=leader, config=_defaults(raw))
    app = raw["name"].removesuffix("-k8s")
    for hook in HOOKS:
        model_file.write_text(json.dumps(model))
        env = {
            "PATH": f"{tools}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            "CHARMARR_FAKE_JUJU": str(model_file),
            "JUJU_DISPATCH_PATH": f"hooks/{hook}",
            "JUJU_UNIT_NAME": f"{app}/0",
            "JUJU_MODEL_NAME": "media",
            "JUJU_MODEL_UUID": "7d3c1a52-9b1e-4f0a-8c2d-5e6f7a8b9c0d",
            "JUJU_VERSION": "3.6.4",
            "JUJU_CHARM_DIR": str(charm),
            "JUJU_HOOK_NAME": hook,
        }
        result = subprocess.run(
            ["./dispatch"],
            cwd=charm,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (
            f"{name} {hook}: exit {result.returncode}\n{result.stderr[-3000:]}"
        )
        assert "Traceback" not in result.stderr, f"{name} {hook}:\n{result.stderr[-3000:]}"
        model = json.loads(model_file.read_text())
        juju_tools.commit(model)
        unit = [s for s in model["statuses"] if not s["app"]]
        assert unit and unit[-1]["status"] in SETTLED, (
            f"{name} {hook}: {unit[-1:]} {model['calls'][-15:]} {result.stderr[-2000:]}"
        )
        model["statuses"].clear()
    called = {call[0] for call in model["calls"]}
    assert "status-set" in called and "is-leader" in called
    owned = [s for s in model["secrets"].values() if s["owner"] == "application"]
    if leader and app != "plex":
        assert owned, f"{name}: the leader created no secret through secret-add"
    if not leader:
        assert owned == [] and "secret-set" not in called, f"{name}: a non-leader managed secrets"
