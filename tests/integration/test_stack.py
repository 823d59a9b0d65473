"""The bundle on a real controller: Active, wired, rotating, cleaning up."""

from __future__ import annotations

import json
import os
import time
from urllib.parse import urlsplit

import jubilant
import pytest
from expected import mismatches, settled
from stack_helpers import (
    TIMEOUT,
    create_plex_libraries,
    http_from_unit,
    kubectl,
    secret_content,
    secret_revision,
    vpn_available,
)

ARR = {"radarr": 7878, "sonarr": 8989}


def _leader(juju: jubilant.Juju, app: str) -> str:
    """The unit that runs the app's workload (the leader)."""
    units = juju.status().apps[app].units
    return next(name for name, unit in units.items() if unit.leader)


def _base_path(juju: jubilant.Juju, app: str) -> str:
    """The app's base path: its URL's path (``/<model>-<app>`` behind traefik, else empty)."""
    url = juju.run(f"{app}/leader", "get-url").results["url"]
    return urlsplit(url).path.rstrip("/")


def _arr_get(juju: jubilant.Juju, app: str, path: str) -> object:
    key = secret_content(juju, f"{app}-api-key")["api-key"]
    port = ARR.get(app, 9696)
    url = f"http://localhost:{port}{_base_path(juju, app)}{path}"
    return json.loads(http_from_unit(juju, _leader(juju, app), url, {"X-Api-Key": key}))


def _expected() -> dict[str, tuple[str, str]]:
    return settled(vpn=vpn_available(), plex=bool(os.environ.get("CHARMARR_PLEX_CLAIM")))


def _statuses(status: jubilant.Status) -> dict[str, tuple[str, str]]:
    return {
        app: (info.app_status.current, info.app_status.message)
        for app, info in status.apps.items()
    }


def _settled(juju: jubilant.Juju) -> None:
    """Wait until every app shows what it reaches with the secrets this run has."""
    expected = _expected()
    juju.wait(
        lambda s: not mismatches(_statuses(s), expected) and jubilant.all_agents_idle(s),
        error=jubilant.any_error,
        timeout=TIMEOUT,
    )


def test_stack_settles(stack: jubilant.Juju):
    if os.environ.get("CHARMARR_PLEX_CLAIM"):
        # Radarr and Sonarr test their Plex connection, which needs a library of each kind.
        stack.wait(lambda s: jubilant.all_active(s, "plex"), timeout=TIMEOUT)
        create_plex_libraries(stack)
    _settled(stack)


def test_keys_were_delivered(stack: jubilant.Juju):
    # Prowlarr lists Radarr and Sonarr as applications carrying their current keys.
    apps = _arr_get(stack, "prowlarr", "/api/v1/applications")
    assert isinstance(apps, list)
    names = {a["name"] for a in apps}
    assert {"radarr (juju)", "sonarr (juju)"} <= names
    # Radarr and Sonarr each have both download clients, named after the providers.
    for app in ARR:
        clients = _arr_get(stack, app, "/api/v3/downloadclient")
        assert {"qbittorrent (juju)", "sabnzbd (juju)"} <= {c["name"] for c in clients}


GENERATORS = {
    "prowlarr": "prowlarr-api-key",
    "radarr": "radarr-api-key",
    "sonarr": "sonarr-api-key",
    "sabnzbd": "sabnzbd-api-key",
    "qbittorrent": "qbittorrent-credentials",
    "gluetun": "gluetun-proxy-credentials",
}


@pytest.mark.parametrize("app", list(GENERATORS))
def test_rotation_is_followed_by_every_consumer(stack: jubilant.Juju, app: str):
    if app == "gluetun" and not vpn_available():
        pytest.skip("Gluetun rotates only while it runs, which needs a VPN account")
    label = GENERATORS[app]
    before = secret_revision(stack, label)
    task = stack.run(f"{app}/leader", "rotate-credentials")
    assert "api-key" not in task.results and "password" not in task.results
    _settled(stack)
    # The action reports the revision it published, and that revision is the latest.
    assert int(task.results["revision"]) == secret_revision(stack, label) > before
    if app in ("radarr", "sonarr"):
        _arr_get(stack, app, "/api/v3/system/status")


def test_removing_a_relation_cleans_up(stack: jubilant.Juju):
    stack.remove_relation("sabnzbd:download-client", "radarr:download-client")
    stack.wait(jubilant.all_agents_idle, timeout=TIMEOUT)
    clients = _arr_get(stack, "radarr", "/api/v3/downloadclient")
    assert "sabnzbd (juju)" not in {c["name"] for c in clients}
    stack.integrate("sabnzbd:download-client", "radarr:download-client")
    _settled(stack)


def _pod_ready(juju: jubilant.Juju, pod: str) -> str:
    jsonpath = '{.status.conditions[?(@.type=="Ready")].status}'
    namespace = str(juju.model).split(":")[-1]  # Juju names the namespace after the model
    return kubectl("-n", namespace, "get", "pod", pod, "-o", f"jsonpath={jsonpath}")


def test_a_second_unit_stands_by_and_scaling_back_keeps_the_first(stack: jubilant.Juju):
    """Only the leader runs Radarr: the second unit is Blocked with the command that scales
    back, and its pod is not ready, so the Service sends it nothing."""
    stack.cli("scale-application", "radarr", "2")
    stack.wait(
        lambda s: (
            "radarr/1" in s.apps["radarr"].units
            and s.apps["radarr"].units["radarr/1"].workload_status.current == "blocked"
        ),
        timeout=TIMEOUT,
    )
    message = stack.status().apps["radarr"].units["radarr/1"].workload_status.message
    assert message.endswith("juju scale-application radarr 1")
    radarr_settles_in = _expected()["radarr"][0]  # active, or waiting for an unclaimed Plex
    assert stack.status().apps["radarr"].units["radarr/0"].workload_status.current == (
        radarr_settles_in
    )
    deadline = time.monotonic() + 180
    while _pod_ready(stack, "radarr-1") != "False" and time.monotonic() < deadline:
        time.sleep(5)
    assert _pod_ready(stack, "radarr-1") == "False", "the standby's pod is in the Service"

    stack.cli("scale-application", "radarr", "1")
    stack.wait(lambda s: set(s.apps["radarr"].units) == {"radarr/0"}, timeout=TIMEOUT)
    _settled(stack)


def test_the_kill_switch_and_the_urls(stack: jubilant.Juju):
    # Gluetun admits only its related apps; Prowlarr (related to it) has its egress policy.
    namespace = (stack.model or "").rpartition(":")[2]
    policies = kubectl("-n", namespace, "get", "networkpolicy", "-o", "name").split()
    assert "networkpolicy.networking.k8s.io/gluetun-vpn-clients" in policies
    assert "networkpolicy.networking.k8s.io/prowlarr-kill-switch" in policies
    # Every web UI says where it is, for scripts (behind traefik once it has an address).
    for app in ("prowlarr", "radarr", "sonarr", "sabnzbd", "qbittorrent"):
        url = stack.run(f"{app}/leader", "get-url").results["url"]
        assert urlsplit(url).scheme in ("http", "https"), (app, url)
