"""The runtime's size is what ships: bytecode written by whatever ran it is not counted."""

from __future__ import annotations

import sys

from charms_under_test import repo_root

sys.path.insert(0, str(repo_root() / "tools"))

import stage


def test_installed_size_leaves_bytecode_out(tmp_path):
    package = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "pkg"
    (package / "__pycache__").mkdir(parents=True)
    (package / "mod.py").write_text("x = 1\n")
    (package / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0" * 1000)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "stray.pyc").write_bytes(b"\0" * 500)
    (tmp_path / "lib" / "shared.py").write_text("y = 2\n")

    assert stage.installed_size(tmp_path) == len("x = 1\n") + len("y = 2\n")
