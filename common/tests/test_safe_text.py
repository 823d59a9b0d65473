"""config.xml and the shared rule: a control character never reaches a file."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from charmarr_common.safe_text import UnsafeValueError, has_control, line_safe
from charmarr_servarr.arr import read_api_key, render_config_xml

CURRENT = "<Config>\n  <ApiKey>old</ApiKey>\n  <Port>7878</Port>\n</Config>\n"


@pytest.mark.parametrize("bad", ["k\x00", "k\x1b", "k\x7f", "k\x0b"])
@pytest.mark.parametrize("current", [None, CURRENT])
def test_config_xml_refuses_a_value_xml_cannot_hold(current, bad):
    with pytest.raises(UnsafeValueError, match=r"config.xml") as e:
        render_config_xml(current, {"ApiKey": bad, "Port": "7878"})
    assert bad not in e.value.message
    assert e.value.status.name == "blocked"


def test_config_xml_escapes_markup_and_stays_parseable():
    text = render_config_xml(CURRENT, {"ApiKey": "a<b>&c", "Port": "7878"})
    ET.fromstring(text)
    assert read_api_key(text) == "a<b>&c"


def test_line_safe_names_the_file_never_the_value():
    assert line_safe("plain-token", what="x", file="f") == "plain-token"
    assert has_control("a b", space=True) and not has_control("a b")
    with pytest.raises(UnsafeValueError) as e:
        line_safe("s3cr3t\nvalue", what="the password", file="/x.cfg")
    assert e.value.message == (
        "refusing to write the password to /x.cfg: it contains control characters"
    )
