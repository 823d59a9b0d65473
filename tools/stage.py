"""Stage what each charm needs to be packed on its own, outside the uv workspace.

``charmcraft pack`` sees only the charm's directory, so for each charm this writes:

- ``lib/charmarr_*/``: the modules of the shared packages (``charmarr_interfaces``,
  ``charmarr_common``, ``charmarr_servarr``) that the charm's code imports, directly or
  through each other, and nothing else (never the test kit, which is its own
  development-only distribution); an interface subpackage is staged whole, because its
  databag models are imported by name on first use;
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
SHARED = {
    "charmarr_interfaces": ROOT / "interfaces" / "src" / "charmarr_interfaces",
    "charmarr_common": ROOT / "common" / "src" / "charmarr_common",
    "charmarr_servarr": ROOT / "servarr" / "src" / "charmarr_servarr",
}
"""The shared runtime packages a charm may import, by import name."""


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


def _module_file(module: str) -> Path | None:
    """The source file of a shared module (``charmarr_common.http``), or None."""
    package, _, rest = module.partition(".")
    if package not in SHARED:
        return None
    base = SHARED[package].joinpath(*rest.split(".")) if rest else SHARED[package]
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports_of(path: Path, module: str) -> set[str]:
    """Every module ``path`` imports (anywhere in it, lazy imports included), absolute."""
    import ast

    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                parts = parts if is_package else parts[:-1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def shared_modules(charm: str) -> set[Path]:
    """The shared packages' files ``charm``'s source needs, by following its imports."""
    todo = [(f, "") for f in (ROOT / "charms" / charm / "src").rglob("*.py")]
    seen: set[Path] = set()
    while todo:
        path, module = todo.pop()
        for name in imports_of(path, module):
            parts = name.split(".")
            # a module's parent packages run first; an interface subpackage ships whole
            for depth in range(1, len(parts) + 1):
                prefix = ".".join(parts[:depth])
                found = _module_file(prefix)
                if found is None or found in seen:
                    continue
                seen.add(found)
                todo.append((found, prefix))
                if found.name == "__init__.py" and depth > 1:
                    for sibling in found.parent.glob("*.py"):
                        if sibling not in seen:
                            sub = f"{prefix}.{sibling.stem}"
                            todo.append((sibling, sub))
                            seen.add(sibling)
    return seen


def stage(charm: str, into: Path | None = None) -> Path:
    """Write ``lib/charmarr_*`` (what the charm imports) and ``requirements.txt`` for ``charm``.

    Into the charm's own directory by default (what ``charmcraft pack`` reads), or into a
    copy of it at ``into`` (what the artifact tests measure).
    """
    charm_dir = ROOT / "charms" / charm
    if into is not None:
        shutil.copytree(charm_dir / "src", into / "src", dirs_exist_ok=True)
        charm_dir = into
    lib = charm_dir / "lib"
    for package in SHARED:
        shutil.rmtree(lib / package, ignore_errors=True)
    for source in sorted(shared_modules(charm)):
        package = next(name for name, root in SHARED.items() if root in source.parents)
        target = lib / package / source.relative_to(SHARED[package])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
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
    """Bytes of the runtime: the venv's site-packages plus the staged ``lib/``.

    Bytecode is left out: whatever ran the runtime (the bench's own timing) wrote it, and
    the size must not depend on that.
    """
    roots = [*into.glob("venv/lib/python*/site-packages"), into / "lib"]
    return sum(
        f.stat().st_size
        for root in roots
        for f in root.rglob("*")
        if f.is_file() and f.suffix != ".pyc" and "__pycache__" not in f.parts
    )


def main(argv: list[str]) -> int:
    """Stage the named charms, or all of them."""
    for charm in argv or charms():
        print(f"staged {stage(charm).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
