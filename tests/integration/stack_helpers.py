"""Helpers for the integration tests: secrets as an admin sees them, HTTP from inside a pod."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import jubilant

ROOT = Path(__file__).resolve().parents[2]
APPS = ("prowlarr", "radarr", "sonarr", "sabnzbd", "qbittorrent", "gluetun", "plex")
TIMEOUT = 30 * 60


def kubectl(*args: str, stdin: str | None = None) -> str:
    """Run kubectl (``CHARMARR_KUBECTL`` overrides the command)."""
    command = [*shlex.split(os.environ.get("CHARMARR_KUBECTL", "kubectl")), *args]
    return subprocess.run(command, input=stdin, check=True, capture_output=True, text=True).stdout


def vpn_available() -> bool:
    """Whether the environment provides a real VPN account for Gluetun."""
    return bool(
        os.environ.get("CHARMARR_VPN_PROVIDER")
        and os.environ.get("CHARMARR_WIREGUARD_PRIVATE_KEY")
    )


def secret_content(juju: jubilant.Juju, label: str) -> dict[str, str]:
    """The latest content of the charm-owned secret with ``label`` (as an admin sees it)."""
    for secret in juju.secrets():
        if secret.label == label:
            return dict(juju.show_secret(secret.uri, reveal=True).content)
    raise LookupError(f"no secret labelled {label}")


def secret_revision(juju: jubilant.Juju, label: str) -> int:
    """The latest revision of the charm-owned secret with ``label``."""
    for secret in juju.secrets():
        if secret.label == label:
            return secret.revision
    raise LookupError(f"no secret labelled {label}")


def http_from_unit(
    juju: jubilant.Juju,
    unit: str,
    url: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
) -> str:
    """Request ``url`` from inside ``unit``'s pod (the charm container shares the pod network)."""
    script = (
        "import sys, urllib.request as u; "
        f"r = u.Request({url!r}, headers={headers or {}!r}, method={method!r}); "
        "sys.stdout.write(u.urlopen(r, timeout=10).read().decode())"
    )
    return juju.exec("python3", "-c", script, unit=unit).stdout


PLEX_LIBRARIES = (
    ("Movies", "movie", "tv.plex.agents.movie", "Plex Movie", "/data/movies"),
    ("TV Shows", "show", "tv.plex.agents.series", "Plex TV Series", "/data/tv"),
)
"""What the guide has the user create in Plex: Radarr and Sonarr refuse Plex without them."""


def create_plex_libraries(juju: jubilant.Juju) -> None:
    """Create the Movie and TV libraries through Plex's API, as the owner would in its UI."""
    from urllib.parse import urlencode

    token = secret_content(juju, "plex-token")["token"]
    for name, kind, agent, scanner, location in PLEX_LIBRARIES:
        query = urlencode(
            {
                "name": name,
                "type": kind,
                "agent": agent,
                "scanner": scanner,
                "language": "en-US",
                "location": location,
            }
        )
        http_from_unit(
            juju,
            "plex/0",
            f"http://localhost:32400/library/sections?{query}",
            {"X-Plex-Token": token},
            method="POST",
        )
