"""The stack's patches of ops.testing internals refuse an ops release they were not checked on."""

from __future__ import annotations

import compat
import pytest

from charmarr_testing import compat as kit


def test_the_patches_refuse_another_ops_release(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(kit.WRITTEN_FOR, "ops", (2, 17))

    with pytest.raises(kit.IncompatibleOpsError, match=r"written for ops 2\.17\.x") as raised:
        compat.check_versions()
    assert "ops 3." in str(raised.value), "the message names the installed release"


def test_the_installed_releases_are_the_ones_the_patches_were_written_for():
    compat.check_versions()
