"""Every ``upstream-source`` names one build of its image, never a tag that moves.

``lscr.io/linuxserver/radarr:5.26.2`` is re-pointed by every linuxserver rebuild (a new base
image, a security fix), so a deploy next month would run something nobody tested. The
immutable forms, per publisher (from their build pipelines):

- linuxserver: ``<app version>-ls<build>`` (the git tag of the image repository, one push);
- plexinc/pms-docker: ``<major.minor.patch.build>-<commit>``, Plex's full build tag;
- qmcgaw/gluetun: ``v<major>.<minor>.<patch>`` (pushed once, on the release's git tag;
  ``v3``, ``v3.41`` and ``latest`` move: gluetun .github/workflows/ci.yml);
- 3proxy/3proxy: ``<major>.<minor>.<patch>`` (pushed once per release; ``latest`` and
  ``minimal`` move: 3proxy .github/workflows/docker.yml);
- anything pinned by ``@sha256:<digest>``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from contract import CHARMS

ROOT = Path(__file__).resolve().parents[2]

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
IMMUTABLE = {
    "lscr.io/linuxserver/": re.compile(r"\d+(\.\d+){2,3}(-r\d+)?-ls\d+"),
    "docker.io/plexinc/pms-docker": re.compile(r"\d+\.\d+\.\d+\.\d+-[0-9a-f]{7,}"),
    "qmcgaw/gluetun": re.compile(r"v\d+\.\d+\.\d+"),
    "3proxy/3proxy": re.compile(r"\d+\.\d+\.\d+"),
}


def floating_reason(reference: str) -> str | None:
    """Why ``reference`` may point at another image tomorrow (None: it will not)."""
    if DIGEST.search(reference):
        return None
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:
        return "no tag (that is :latest)"
    for prefix, pattern in IMMUTABLE.items():
        if name.startswith(prefix):
            if pattern.fullmatch(tag):
                return None
            return f"{tag!r} is not an immutable build tag of {prefix.rstrip('/')}"
    return f"{name} has no known immutable tag form: pin it by @sha256 digest"


def _sources() -> dict[str, str]:
    found = {}
    for charm in sorted(CHARMS):
        meta = yaml.safe_load((ROOT / "charms" / charm / "charmcraft.yaml").read_text())
        for name, resource in (meta.get("resources") or {}).items():
            if resource.get("type") == "oci-image":
                found[f"{charm}/{name}"] = resource.get("upstream-source", "")
    return found


@pytest.mark.parametrize(("resource", "reference"), sorted(_sources().items()))
def test_every_upstream_source_is_an_immutable_build(resource, reference):
    assert floating_reason(reference) is None, f"{resource}: {floating_reason(reference)}"


@pytest.mark.parametrize(
    "reference",
    [
        "lscr.io/linuxserver/radarr:5.26.2",
        "lscr.io/linuxserver/radarr:latest",
        "lscr.io/linuxserver/radarr",
        "lscr.io/linuxserver/qbittorrent:5.1.2-r4",
        "docker.io/plexinc/pms-docker:1.43.0",
        "docker.io/plexinc/pms-docker:latest",
        "qmcgaw/gluetun:v3",
        "qmcgaw/gluetun:v3.41",
        "3proxy/3proxy:minimal",
        "localhost:5000/radarr",
        "ghcr.io/hotio/radarr:release",
    ],
)
def test_floating_tags_are_refused(reference):
    assert floating_reason(reference) is not None


@pytest.mark.parametrize(
    "reference",
    [
        "lscr.io/linuxserver/radarr:5.26.2.10099-ls281",
        "lscr.io/linuxserver/qbittorrent:5.1.2-r4-ls426",
        "lscr.io/linuxserver/sabnzbd:4.5.1-ls223",
        "ghcr.io/hotio/radarr@sha256:" + "a" * 64,
    ],
)
def test_build_tags_and_digests_pass(reference):
    assert floating_reason(reference) is None
