"""The checks the plugin makes at the end of a test session fail the run when they should."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

LEAKY = """
import tempfile

from charmarr_testing.scratch import scratch_dir


def test_cleaned_up_by_the_session():
    scratch_dir("charmarr-fine-")


def test_leaves_a_directory_behind():
    tempfile.mkdtemp(prefix="charmarr-leaky-")
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_directory_left_in_the_temp_folder_fails_the_run(tmp_path, workers):
    (tmp_path / "test_leaky.py").write_text(LEAKY)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "charmarr_testing.pytest_plugin",
            *workers,
            "test_leaky.py",
        ],
        cwd=tmp_path,
        # The inner pytest's own tmp_path directories go under this test's tmp_path.
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert "left in the temp folder by the tests" in result.stdout
    assert "charmarr-leaky-" in result.stdout
    assert "charmarr-fine-" not in result.stdout
