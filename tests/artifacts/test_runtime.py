"""Each charm's runtime, built exactly as ``tox -e pack`` builds it, imports and stays lean.

The staged tree (``src/``, ``lib/charmarr_interfaces``) and a venv of the requirements
exported from ``uv.lock`` are what the charm plugin ships; ``src/charm.py`` must import
there with nothing from the test environment, and the installed size is reported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from charms_under_test import charm_dirs

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import stage  # noqa: E402

MAX_BYTES = 18_000_000
"""Issue budget for a charm's runtime without bytecode (issue #18: lightkube included)."""
FORBIDDEN = ("juju", "kubernetes", "jinja2", "httpx", "charmarr_testing")


@pytest.fixture(scope="module", params=sorted(charm_dirs()))
def runtime(request, tmp_path_factory):
    into = tmp_path_factory.mktemp(request.param)
    python = stage.build_runtime(request.param, into)
    return request.param, into, python


def test_charm_imports_in_its_own_runtime(runtime):
    _, into, python = runtime
    env = {"PYTHONPATH": f"{into / 'lib'}:{into / 'src'}", "PATH": os.environ.get("PATH", "")}
    result = subprocess.run(
        [
            str(python),
            "-I",
            "-c",
            "import sys; sys.path[:0] = sys.argv[1].split(':'); import charm",
            env["PYTHONPATH"],
        ],
        capture_output=True,
        check=False,
        text=True,
        env=env,
        cwd=into,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def _without_bytecode(into: Path) -> int:
    """Bytes of what ``stage.installed_size`` counts, less the ``.pyc`` an import wrote."""
    roots = [*into.glob("venv/lib/python*/site-packages"), into / "lib"]
    pyc = sum(f.stat().st_size for root in roots for f in root.rglob("*.pyc"))
    return stage.installed_size(into) - pyc


def test_runtime_is_lean(runtime):
    name, into, _ = runtime
    size = _without_bytecode(into)
    print(f"{name}: runtime {size / 1e6:.1f} MB without bytecode")
    assert size <= MAX_BYTES
    installed = {p.name.lower() for p in into.glob("venv/lib/python*/site-packages/*")}
    for heavy in FORBIDDEN[:-1]:
        assert not any(n == heavy or n.startswith(f"{heavy}-") for n in installed), heavy
    assert not (into / "lib" / "charmarr_interfaces" / "testing").exists()
