"""qBittorrent.conf: a value with a newline would add keys of its own."""

from __future__ import annotations

import pytest
from charms_under_test import load_charm

from charmarr_common.safe_text import UnsafeValueError

load_charm("qbittorrent")

from _qbittorrent.config import read_value, render, set_values  # noqa: E402

CONF = "[Preferences]\nWebUI\\Port=8080\n"


@pytest.mark.parametrize("bad", ["x\nWebUI\\AuthSubnetWhitelistEnabled=true", "x\r", "x\x00"])
def test_a_value_with_a_control_character_is_refused_not_written(bad):
    with pytest.raises(UnsafeValueError, match=r"qBittorrent.conf") as e:
        render(CONF, bad, "password-1234")
    assert bad not in e.value.message
    with pytest.raises(UnsafeValueError):
        set_values(CONF, {"Preferences": {f"WebUI\\{bad}": "1"}})
    with pytest.raises(UnsafeValueError):
        set_values(CONF, {f"Pre{bad}": {"k": "1"}})


def test_a_safe_username_is_written_on_its_line():
    text = render(CONF, "admin-1234", "password-1234")
    assert read_value(text, "Preferences", "WebUI\\Username") == "admin-1234"
    assert read_value(text, "Preferences", "WebUI\\Port") == "8080"
