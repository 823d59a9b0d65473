"""sabnzbd.ini: a value with a newline would start a line (or a [section]) of its own."""

from __future__ import annotations

import pytest
from _sabnzbd.ini import misc_values, with_misc

from charmarr_common.safe_text import UnsafeValueError

INI = "__version__ = 19\n[misc]\nport = 8080\n[servers]\n"


@pytest.mark.parametrize("bad", ["x\n[servers]", "x\r\nhost = evil", "x\x00", "x\x1b[2J"])
def test_a_value_with_a_control_character_is_refused_not_written(bad):
    with pytest.raises(UnsafeValueError, match=r"sabnzbd.ini") as e:
        with_misc(INI, {"host_whitelist": bad})
    assert bad not in e.value.message
    with pytest.raises(UnsafeValueError):
        with_misc(INI, {"host_whitelist": ["sabnzbd", bad]})
    with pytest.raises(UnsafeValueError):
        with_misc(INI, {f"k{bad}": "v"})


def test_every_other_value_round_trips_on_one_line():
    text = with_misc(INI, {"api_key": "abc 'def\" ghi", "host_whitelist": ["a", "b"]})
    assert misc_values(text)["api_key"] == "abc 'def\" ghi"
    assert text.count("\n") == INI.count("\n") + 2
