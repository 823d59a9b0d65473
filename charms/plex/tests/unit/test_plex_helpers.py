"""The charm's helpers against the fakes: Preferences.xml editing, /identity, the exchange."""

from __future__ import annotations

import pytest
from charms_under_test import load_charm

from charmarr_testing.fake_plex import PLEX_TV_ADDRESS, FakePlexTv

load_charm("plex")  # puts charms/plex/src on sys.path

from _plex import api  # noqa: E402  # pyright: ignore[reportMissingImports]
from _plex.preferences import (  # noqa: E402  # pyright: ignore[reportMissingImports]
    InvalidPreferencesError,
    Preferences,
)

CLIENT = "b7a3f0e4c9d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5"


def test_preferences_round_trip_keeps_every_setting_and_escaping():
    text = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Preferences MachineIdentifier="m-1" FriendlyName="Tom &amp; Jerry&apos;s &lt;tv&gt;" '
        'customConnections="http://a:1,http://b:2" ProcessedMachineIdentifier="p-1"/>\n'
    )
    prefs = Preferences.parse(text)
    prefs.attributes["PlexOnlineToken"] = "tok&en"

    again = Preferences.parse(prefs.render())

    assert list(again.attributes) == [
        "MachineIdentifier",
        "FriendlyName",
        "customConnections",
        "ProcessedMachineIdentifier",
        "PlexOnlineToken",
    ]
    assert again.attributes["FriendlyName"] == "Tom & Jerry's <tv>"
    assert again.token == "tok&en"
    assert again.client_identifier == "p-1"
    assert prefs.render().startswith('<?xml version="1.0" encoding="utf-8"?>\n<Preferences ')


def test_preferences_identifiers_derived_like_plex():
    prefs = Preferences.parse(None)
    client = prefs.ensure_identifiers()

    assert len(prefs.attributes["MachineIdentifier"]) == 36
    assert len(client) == 40
    assert prefs.ensure_identifiers() == client  # stable once written


@pytest.mark.parametrize("text", ["<nope", "<Settings/>"])
def test_preferences_that_are_not_plex_settings_are_refused(text):
    with pytest.raises(InvalidPreferencesError):
        Preferences.parse(text)


def test_identity_in_json_is_understood_too():
    identity = api.parse_identity(
        '{"MediaContainer": {"size": 0, "claimed": true, "machineIdentifier": "abc",'
        ' "version": "1.43"}}'
    )
    assert identity == api.Identity(claimed=True, machine_identifier="abc", version="1.43")


def test_claim_token_is_accepted_once_then_rejected(fake_network):
    plex_tv = FakePlexTv(server_token="SERVERtoken123")
    fake_network.add(PLEX_TV_ADDRESS, plex_tv)
    claim = plex_tv.issue_claim_token()

    assert api.exchange_claim_token(claim, CLIENT, "1.43") == "SERVERtoken123"
    with pytest.raises(api.ClaimRejectedError) as again:
        api.exchange_claim_token(claim, CLIENT, "1.43")
    with pytest.raises(api.ClaimRejectedError):
        api.exchange_claim_token("claim-unknown", CLIENT, "1.43")

    assert again.value.message == "plex.tv rejected the claim token (HTTP 404)"
    assert claim not in str(again.value)
    assert plex_tv.exchanges[0].url.startswith("https://plex.tv/api/claim/exchange?token=")
    assert plex_tv.exchanges[0].headers["X-Plex-Version"] == "1.43"
