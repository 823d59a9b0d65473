"""`tox -e pack` says what to install when charmcraft or LXD is missing, before staging."""

from __future__ import annotations

import os
import subprocess
import sys

from charms_under_test import repo_root

SCRIPT = repo_root() / "tools" / "pack_prereqs.py"


def _run(path: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path}
    return subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, check=False
    )


def test_missing_tools_are_named_with_how_to_get_them(tmp_path):
    result = _run(str(tmp_path))
    assert result.returncode == 1
    assert "sudo snap install charmcraft --classic" in result.stderr
    assert "sudo snap install lxd" in result.stderr


def test_present_tools_pass(tmp_path):
    for tool in ("charmcraft", "lxc"):
        exe = tmp_path / tool
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    result = _run(str(tmp_path))
    assert result.returncode == 0, result.stderr


def test_tox_checks_before_it_stages():
    tox = (repo_root() / "tox.ini").read_text()
    pack = tox[tox.index("[testenv:pack]") :]
    assert pack.index("tools/pack_prereqs.py") < pack.index("tools/stage.py")
