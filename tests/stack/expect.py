"""What an operator would check in the apps themselves, read from the workload fakes.

Each helper answers one question ("does Radarr hold qBittorrent's current password?")
from what the charms wrote into the fakes, and where it can, by *using* the stored
credential over the network the way the app itself would (Radarr logging in to
qBittorrent at the address it was given, Prowlarr calling Radarr with the key it holds).
"""

from __future__ import annotations

import re
from typing import Any

from kits import GLUETUN_AUTH, charm_options
from records import MODEL_NAME, SecretRecord, Unit
from stack import Stack
from workloads import unit_ready

from charmarr_common import standby
from charmarr_common.cleanup import managed_name
from charmarr_common.http import HttpClient
from charmarr_servarr.api import MEDIA_MANAGERS, RADARR, SONARR, field_values

SERVARR = ("prowlarr", "radarr", "sonarr")
MANAGERS = ("radarr", "sonarr")
PROXY_LABEL = "gluetun-proxy-credentials"

GENERATORS: dict[str, str] = {
    "prowlarr": "prowlarr-api-key",
    "radarr": "radarr-api-key",
    "sonarr": "sonarr-api-key",
    "sabnzbd": "sabnzbd-api-key",
    "qbittorrent": "qbittorrent-credentials",
    "gluetun": PROXY_LABEL,
}
"""Every app that generates (and rotates) a credential, and its secret's label."""

CONSUMERS: dict[str, tuple[str, ...]] = {
    "prowlarr": MANAGERS,
    "radarr": ("prowlarr",),
    "sonarr": ("prowlarr",),
    "sabnzbd": MANAGERS,
    "qbittorrent": MANAGERS,
    "gluetun": ("qbittorrent", "sabnzbd", "prowlarr"),
}
"""Who uses each generated credential (the bundle's relations)."""


def service(app: str, port: int) -> str:
    return f"{app}.{MODEL_NAME}.svc.cluster.local:{port}"


def entry(stack: Stack, app: str, resource: str, name: str) -> dict[str, Any] | None:
    """An entry (unmasked) in an *arr app's leader workload."""
    return stack.app(app).fake.named(resource).get(name)


def fields_of(found: dict[str, Any] | None) -> dict[str, Any]:
    return field_values(found or {})


# ---------------------------------------------------------------------------------------------
# Owners: the workload accepts the credential
# ---------------------------------------------------------------------------------------------


def gluetun_proxy(stack: Stack, unit: Unit | None = None) -> dict[str, str]:
    """The proxy credentials Gluetun's HTTP proxy and SOCKS5 server use (from their files)."""
    unit = unit or stack.app("gluetun").leader
    http_user = (unit.dirs["secrets"] / "httpproxy_user").read_text()
    http_password = (unit.dirs["secrets"] / "httpproxy_password").read_text()
    socks = (unit.dirs["socks5"] / "3proxy.cfg").read_text()
    match = re.search(r"^users ([^:\s]+):CL:(\S+)$", socks, re.M)
    assert match, "3proxy.cfg has no user"
    assert (match[1], match[2]) == (http_user, http_password), "HTTP and SOCKS5 proxies differ"
    return {"username": http_user, "password": http_password}


def owner_accepts(
    stack: Stack, owner: str, content: dict[str, str], unit: Unit | None = None
) -> bool:
    """Whether ``owner``'s workload (the leader's, or ``unit``'s) accepts ``content`` now."""
    fake = unit.fake if unit is not None else stack.app(owner).fake
    if owner in SERVARR:
        return fake.api_key == content["api-key"]
    if owner == "sabnzbd":
        return fake.api_key == content["api-key"]
    if owner == "qbittorrent":
        return fake.accepts(content["username"], content["password"])
    if owner == "gluetun":
        return gluetun_proxy(stack, unit) == content
    raise ValueError(owner)


# ---------------------------------------------------------------------------------------------
# Consumers: the credential delivered where it is used
# ---------------------------------------------------------------------------------------------


def consumer_value(stack: Stack, consumer: str, owner: str) -> str | None:
    """The credential of ``owner`` as ``consumer``'s workload holds it now."""
    if owner == "prowlarr":
        return None  # Radarr/Sonarr *use* Prowlarr's key: see prowlarr_key_used
    if owner in MANAGERS:
        return fields_of(entry(stack, "prowlarr", "applications", managed_name(owner))).get(
            "apiKey"
        )
    if owner == "sabnzbd":
        return fields_of(entry(stack, consumer, "downloadclient", managed_name("sabnzbd"))).get(
            "apiKey"
        )
    if owner == "qbittorrent":
        found = entry(stack, consumer, "downloadclient", managed_name("qbittorrent"))
        return fields_of(found).get("password")
    if owner == "gluetun":
        fake = stack.app(consumer).fake
        if consumer == "qbittorrent":
            return fake.preferences.get("proxy_password")
        if consumer == "sabnzbd":
            match = re.match(r"socks5://[^:]+:([^@]+)@", fake.misc.get("socks5_proxy_url", ""))
            return match[1] if match else None
        if consumer == "prowlarr":
            return fake.host.get("proxyPassword")
    raise ValueError((consumer, owner))


def secret_value(owner: str, content: dict[str, str]) -> str:
    """The one value of a generated credential that consumers store."""
    return content["password"] if owner in ("qbittorrent", "gluetun") else content["api-key"]


def prowlarr_key_used(stack: Stack, hooks: list[Any]) -> list[tuple[str, bool]]:
    """(key, accepted) of every call to Prowlarr made in ``hooks``."""
    address = service("prowlarr", 9696)
    used = []
    for hook in hooks:
        for request in stack.requests_of(hook):
            if address in request.url and request.path != "/ping":
                # The charm's calls carry the key in X-Api-Key; the app's own calls to an
                # indexer Prowlarr synced to it (Torznab/Newznab) carry it as ?apikey=.
                key = {k.lower(): v for k, v in request.headers.items()}.get("x-api-key")
                used.append(key or request.query.get("apikey"))
    fake = stack.app("prowlarr").fake
    return [(key, key == fake.api_key) for key in used]


def holds(
    stack: Stack, consumer: str, owner: str, content: dict[str, str], hooks: list[Any]
) -> bool:
    """Whether ``consumer`` uses ``content`` (owner's credential) after ``hooks``."""
    if owner == "prowlarr":
        used = prowlarr_key_used(stack, hooks)
        return bool(used) and all(key == content["api-key"] and ok for key, ok in used)
    return consumer_value(stack, consumer, owner) == secret_value(owner, content)


# ---------------------------------------------------------------------------------------------
# Probes: use a stored credential the way the app holding it would
# ---------------------------------------------------------------------------------------------


def probe_download_client(found: dict[str, Any]) -> bool:
    """Radarr's "test" of a download client: log in at the host and port it stored."""
    values = fields_of(found)
    url = f"http://{values['host']}:{values['port']}"
    if found["implementation"] == "QBittorrent":
        client = HttpClient(url, name="qbittorrent")
        answer = client.request(
            "POST",
            "/api/v2/auth/login",
            form={"username": values["username"], "password": values["password"]},
        )
        return answer.text == "Ok."
    client = HttpClient(url, name="sabnzbd")
    answer = client.request(
        "GET",
        "/api",
        params={"mode": "get_config", "section": "categories", "apikey": values["apiKey"]},
        expect=(200, 403),
    )
    return answer.status == 200 and "categories" in answer.text


def probe_application(found: dict[str, Any]) -> bool:
    """Prowlarr's sync call to the Radarr/Sonarr it registered, with the key it holds."""
    values = fields_of(found)
    kind = MEDIA_MANAGERS["radarr" if found["implementation"] == "Radarr" else "sonarr"]
    client = HttpClient(values["baseUrl"], name=kind.name, headers={"X-Api-Key": values["apiKey"]})
    return client.request("GET", f"{kind.api}/system/status", expect=(200, 401)).status == 200


def probe_control_key(key: str) -> bool:
    """A requirer asking Gluetun's control server for the public IP with its key."""
    client = HttpClient(
        f"http://{service('gluetun', 8000)}", name="gluetun", headers={"X-API-Key": key}
    )
    return client.request("GET", "/v1/publicip/ip", expect=(200, 401)).status == 200


# ---------------------------------------------------------------------------------------------
# The whole picture after deploy + integrate
# ---------------------------------------------------------------------------------------------


def all_active(stack: Stack) -> dict[str, str]:
    """Units that are not Active, with their status (empty when all are).

    A non-leader that stands by as it should (Blocked, naming the command that scales
    back) is left out: see :func:`standbys`.
    """
    return {
        unit: status
        for unit, status in stack.statuses().items()
        if not status.startswith("active") and unit not in standbys(stack)
    }


def standbys(stack: Stack) -> set[str]:
    """Non-leader units that stand by as they should: status, workloads stopped, not ready."""
    found = set()
    for app in stack.apps.values():
        for unit in app.units:
            if unit.leader:
                continue
            if stack.statuses()[unit.name] != f"blocked: {standby.message(app.name)}":
                continue
            if any(w.running for w in unit.workloads.values()) or unit_ready(unit):
                continue
            found.add(unit.name)
    return found


def active_units(stack: Stack, app: str) -> list[str]:
    """The units of ``app`` whose workload runs and whose pod is ready (in the Service)."""
    return [
        u.name
        for u in stack.app(app).units
        if any(w.running for w in u.workloads.values()) and unit_ready(u)
    ]


def control_secrets(stack: Stack) -> dict[int, SecretRecord]:
    """Gluetun's per-relation control secrets, by relation ID."""
    found = {}
    for record in stack.secrets.values():
        if record.owner == "gluetun" and (record.label or "").startswith("gluetun-control-"):
            found[int(str(record.label).rsplit("-", 1)[1])] = record
    return found


def gluetun_roles(stack: Stack) -> dict[str, str]:
    """The control server's roles: name -> API key."""
    text = (stack.app("gluetun").leader.dirs["secrets"] / GLUETUN_AUTH).read_text()
    roles = dict(re.findall(r'name = "([^"]+)"\nauth = "apikey"\napikey = "([^"]*)"', text))
    return roles


def check_media_volume(stack: Stack) -> None:
    """Every app whose charm has ``media-volume`` runs with the bundle's PVC at /data."""
    kubernetes = stack.network.kubernetes
    for app in stack.apps.values():
        if "media-volume" not in charm_options(app.charm):
            continue
        claims = {
            v["name"]: v.get("persistentVolumeClaim", {}).get("claimName")
            for v in kubernetes.volumes(app.name)
        }
        mounts = {
            m["name"]: m["mountPath"]
            for m in kubernetes.container(app.name, app.charm).get("volumeMounts", [])
        }
        volume = next((n for n, path in mounts.items() if path == "/data"), None)
        assert volume is not None, f"{app.name}: nothing mounted at /data"
        assert claims.get(volume) == app.config["media-volume"], f"{app.name}: wrong PVC"


def prowlarr_indexer_keys(stack: Stack, app: str) -> dict[str, str]:
    """The key each indexer Prowlarr synced into ``app`` holds (stored, unmasked), by name."""
    base = f"http://{service('prowlarr', 9696)}/"
    return {
        str(e["name"]): fields_of(e).get("apiKey")
        for e in stack.app(app).fake.store["indexer"].values()
        if str(fields_of(e).get("baseUrl", "")).startswith(base)
    }


def check_delivered(stack: Stack) -> None:
    """Every credential of the bundle is where it is used, at its current value."""
    qbt = stack.owned("qbittorrent", "qbittorrent-credentials").content
    sab = stack.owned("sabnzbd", "sabnzbd-api-key").content
    proxy = stack.owned("gluetun", PROXY_LABEL).content
    token = stack.owned("plex", "plex-token").content["token"]

    assert token == stack.plex_tv.server_token, "plex-token is not the token plex.tv issued"
    prefs = stack.app("plex").leader.dirs["prefs"].read_text()
    assert f'PlexOnlineToken="{token}"' in prefs
    for owner in ("prowlarr", "radarr", "sonarr", "sabnzbd", "qbittorrent", "gluetun"):
        content = stack.owned(owner, GENERATORS[owner]).content
        assert owner_accepts(stack, owner, content), f"{owner} does not accept its own secret"

    for app, kind in (("radarr", RADARR), ("sonarr", SONARR)):
        clients = stack.app(app).fake.named("downloadclient")
        qb = clients[managed_name("qbittorrent")]
        assert fields_of(qb)["username"] == qbt["username"]
        assert fields_of(qb)["password"] == qbt["password"]
        assert fields_of(qb)["host"] == f"qbittorrent.{MODEL_NAME}.svc.cluster.local"
        assert fields_of(qb)[kind.category_field] == app
        assert probe_download_client(qb), f"{app} cannot log in to qbittorrent"
        sz = clients[managed_name("sabnzbd")]
        assert fields_of(sz)["apiKey"] == sab["api-key"]
        assert probe_download_client(sz), f"{app} cannot call sabnzbd"
        plex = stack.app(app).fake.named("notification")[managed_name("plex")]
        assert fields_of(plex)["authToken"] == token
        assert fields_of(plex)["host"] == f"plex.{MODEL_NAME}.svc.cluster.local"
        key = stack.owned(app, f"{app}-api-key").content["api-key"]
        application = entry(stack, "prowlarr", "applications", managed_name(app))
        assert application is not None, f"prowlarr has no application for {app}"
        assert fields_of(application)["apiKey"] == key
        assert probe_application(application), f"prowlarr cannot call {app} with its key"
        prowlarr_key = stack.owned("prowlarr", "prowlarr-api-key").content["api-key"]
        indexers = prowlarr_indexer_keys(stack, app)
        assert len(indexers) == len(stack.app("prowlarr").fake.indexers), f"{app}: indexers"
        assert set(indexers.values()) == {prowlarr_key}, f"{app}: an indexer has an old key"

    for app in ("qbittorrent", "sabnzbd"):
        fake = stack.app(app).fake
        categories = (
            fake.categories
            if app == "qbittorrent"
            else {n: c["dir"] for n, c in fake.categories.items()}
        )
        for manager in MANAGERS:
            assert categories.get(manager) == f"/data/downloads/{manager}", (app, categories)
        assert consumer_value(stack, app, "gluetun") == proxy["password"], f"{app} proxy"
    prefs_q = stack.app("qbittorrent").fake.preferences
    assert prefs_q["proxy_username"] == proxy["username"]
    assert prefs_q["proxy_ip"] == f"gluetun.{MODEL_NAME}.svc.cluster.local"
    assert prefs_q["proxy_port"] == 1080
    host = stack.app("prowlarr").fake.host
    assert host["proxyEnabled"] is True
    assert (host["proxyUsername"], host["proxyPassword"]) == (proxy["username"], proxy["password"])
    assert host["proxyHostname"] == f"gluetun.{MODEL_NAME}.svc.cluster.local"

    controls = control_secrets(stack)
    vpn = {
        stack.relation("gluetun", app).id: app for app in ("qbittorrent", "sabnzbd", "prowlarr")
    }
    assert set(controls) == set(vpn), "one control secret per vpn-gateway relation"
    roles = gluetun_roles(stack)
    for rid, record in controls.items():
        assert record.grants == {rid: {vpn[rid]}}, "a control key is granted to its relation only"
        assert roles.get(f"vpn-gateway-{rid}") == record.content["api-key"]
        assert probe_control_key(record.content["api-key"])
