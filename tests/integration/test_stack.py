"""The bundle on a real controller: Active, wired, rotating, cleaning up."""

from __future__ import annotations

import json
import os
import time

import jubilant
import pytest
from stack_helpers import (
    APPS,
    TIMEOUT,
    create_plex_libraries,
    http_from_unit,
    kubectl,
    secret_content,
    secret_revision,
    vpn_available,
)

ARR = {"radarr": 7878, "sonarr": 8989}


def _arr_get(juju: jubilant.Juju, app: str, path: str) -> object:
    key = secret_content(juju, f"{app}-api-key")["api-key"]
    port = ARR.get(app, 9696)
    return json.loads(
        http_from_unit(juju, f"{app}/0", f"http://localhost:{port}{path}", {"X-Api-Key": key})
    )


def test_stack_settles(stack: jubilant.Juju):
    expected_active = [a for a in APPS if a != "gluetun" or vpn_available()]
    if not os.environ.get("CHARMARR_PLEX_CLAIM"):
        expected_active.remove("plex")
    else:
        # Radarr and Sonarr test their Plex connection, which needs a library of each kind.
        stack.wait(lambda s: jubilant.all_active(s, "plex"), timeout=TIMEOUT)
        create_plex_libraries(stack)
    stack.wait(
        lambda s: jubilant.all_active(s, *expected_active),
        error=jubilant.any_error,
        timeout=TIMEOUT,
    )
    status = stack.status()
    if not vpn_available():
        assert status.apps["gluetun"].app_status.current == "blocked"
        assert "credentials-secret" in status.apps["gluetun"].app_status.message
    if not os.environ.get("CHARMARR_PLEX_CLAIM"):
        assert "claim-token-secret" in status.apps["plex"].app_status.message


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


@pytest.mark.parametrize("app", ["prowlarr", "radarr", "sonarr", "sabnzbd", "qbittorrent"])
def test_rotation_is_followed_by_every_consumer(stack: jubilant.Juju, app: str):
    label = {"qbittorrent": "qbittorrent-credentials"}.get(app, f"{app}-api-key")
    before = secret_revision(stack, label)
    task = stack.run(f"{app}/0", "rotate-credentials")
    assert task.results["revision"] and int(task.results["revision"]) > before
    assert "api-key" not in task.results and "password" not in task.results
    stack.wait(jubilant.all_agents_idle, timeout=TIMEOUT)
    stack.wait(lambda s: jubilant.all_active(s, "prowlarr", "radarr", "sonarr"), timeout=TIMEOUT)
    if app in ("radarr", "sonarr"):
        # Prowlarr's application for this app carries a key the app accepts: the sync test works.
        _arr_get(stack, app, "/api/v3/system/status")


def test_removing_a_relation_cleans_up(stack: jubilant.Juju):
    stack.remove_relation("sabnzbd:download-client", "radarr:download-client")
    stack.wait(jubilant.all_agents_idle, timeout=TIMEOUT)
    clients = _arr_get(stack, "radarr", "/api/v3/downloadclient")
    assert "sabnzbd (juju)" not in {c["name"] for c in clients}
    stack.integrate("sabnzbd:download-client", "radarr:download-client")
    stack.wait(lambda s: jubilant.all_active(s, "radarr", "sabnzbd"), timeout=TIMEOUT)


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
    assert stack.status().apps["radarr"].units["radarr/0"].workload_status.current == "active"
    deadline = time.monotonic() + 180
    while _pod_ready(stack, "radarr-1") != "False" and time.monotonic() < deadline:
        time.sleep(5)
    assert _pod_ready(stack, "radarr-1") == "False", "the standby's pod is in the Service"

    stack.cli("scale-application", "radarr", "1")
    stack.wait(
        lambda s: set(s.apps["radarr"].units) == {"radarr/0"} and jubilant.all_active(s, "radarr"),
        timeout=TIMEOUT,
    )
