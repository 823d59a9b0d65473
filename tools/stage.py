"""Stage what each charm needs to be packed on its own, outside the uv workspace.

``charmcraft pack`` sees only the charm's directory, so for each charm this writes:

- ``lib/charmarr_interfaces/``: the shared package (without its ``testing`` helpers);
- ``requirements.txt``: the charm's third-party runtime dependencies, exported from the
  workspace's single ``uv.lock`` (so the packed charm gets exactly the tested versions).

The charm plugin installs ``requirements.txt`` into the charm's venv and ships ``lib/``
beside ``src/``. ``tox -e pack`` and the artifact-size test both stage through here, so the
size measured in CI is the size of what ships.

Usage: ``python tools/stage.py [charm ...]`` (all charms by default).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT / "interfaces" / "src" / "charmarr_interfaces"


def uv_binary() -> str:
    """The uv executable: the one tox-uv brought, else the one on PATH."""
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found]

        return find_uv_bin()
    except ImportError:
        found = shutil.which("uv")
        if not found:
            raise SystemExit("uv is needed: pip install uv") from None
        return found


def charms() -> list[str]:
    """The charm directory names."""
    return sorted(p.name for p in (ROOT / "charms").iterdir() if (p / "charmcraft.yaml").is_file())


def requirements(charm: str) -> str:
    """The charm's runtime requirements, pinned from uv.lock, without workspace members."""
    out = subprocess.run(
        [
            uv_binary(),
            "export",
            "--frozen",
            "--no-hashes",
            "--no-dev",
            "--no-emit-workspace",
            "--no-header",
            "--no-annotate",
            "--package",
            f"{charm}-k8s",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return "".join(line + "\n" for line in out.splitlines() if line and not line.startswith("-e"))


def stage(charm: str, into: Path | None = None) -> Path:
    """Write ``lib/charmarr_interfaces`` and ``requirements.txt`` for ``charm``.

    Into the charm's own directory by default (what ``charmcraft pack`` reads), or into a
    copy of it at ``into`` (what the artifact tests measure).
    """
    charm_dir = ROOT / "charms" / charm
    if into is not None:
        shutil.copytree(charm_dir / "src", into / "src", dirs_exist_ok=True)
        charm_dir = into
    target = charm_dir / "lib" / "charmarr_interfaces"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(SHARED, target, ignore=shutil.ignore_patterns("testing", "__pycache__"))
    (charm_dir / "requirements.txt").write_text(requirements(charm))
    return charm_dir


def build_runtime(charm: str, into: Path) -> Path:
    """Build the charm's runtime as the pack does: staged tree plus a venv of its requirements.

    Returns:
        The venv's Python; run it with ``PYTHONPATH=<into>/lib:<into>/src`` as dispatch does.
    """
    staged = stage(charm, into)
    venv = into / "venv"
    subprocess.run(
        [uv_binary(), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True
    )
    subprocess.run(
        [
            uv_binary(),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            "-r",
            str(staged / "requirements.txt"),
        ],
        check=True,
    )
    return venv / "bin" / "python"


def installed_size(into: Path) -> int:
    """Bytes of the runtime: the venv's site-packages plus the staged ``lib/``."""
    roots = [*into.glob("venv/lib/python*/site-packages"), into / "lib"]
    return sum(f.stat().st_size for root in roots for f in root.rglob("*") if f.is_file())


def main(argv: list[str]) -> int:
    """Stage the named charms, or all of them."""
    for charm in argv or charms():
        print(f"staged {stage(charm).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
