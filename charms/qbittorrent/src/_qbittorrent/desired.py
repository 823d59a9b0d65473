r"""What qBittorrent should look like: download and proxy preferences, per-relation categories.

Pure functions, so the charm, the unit tests and the real-daemon tests share them.

**Proxy.** qBittorrent 4.5 (Debian's) describes the proxy with an *integer*
``proxy_type`` (0 none, 1 HTTP, 2 SOCKS5, 3 HTTP with auth, 4 SOCKS5 with auth, 5 SOCKS4)
and ``proxy_torrents_only``; 4.6 and 5.x (the images) use a *string* ``proxy_type``
(``"None"``, ``"HTTP"``, ``"SOCKS5"``, ``"SOCKS4"``) with a separate
``proxy_auth_enabled`` and ``proxy_bittorrent``/``proxy_rss``/``proxy_misc``. Sending
one form to the other release silently disables the proxy, so the charm asks
``app/version`` first and speaks the right one.

While proxied, DHT, local peer discovery and UPnP/NAT-PMP (one setting, ``upnp``) are
off: each would reach peers or the LAN router outside the tunnel. The charm recognises
its own proxy setup by that signature (a SOCKS5 proxy with authentication and all three
off); only then does it remove the proxy (and turn the three back on, qBittorrent's
defaults) once the vpn-gateway relation is gone. A proxy the user set up by hand
without the relation is left alone.

**Where downloads land.** Radarr and Sonarr add a torrent with its ``category`` and no
save path. qBittorrent's defaults are manual torrent management
(``BitTorrent\Session\DisableAutoTMMByDefault=true``) with
``UseCategoryPathsInManualMode=false``, so such a torrent would go to the default save path
(with ``--profile=/config``: ``/config/qBittorrent/downloads``, on the config volume) and
the import would fail. The charm owns ``auto_tmm_enabled`` (true: the category decides)
and ``save_path`` (``/data/downloads``), so a category-only add lands in
``/data/downloads/<category>`` (upstream: ``SessionImpl::initLoadTorrentParams`` in
``src/base/bittorrent/sessionimpl.cpp``).

**Categories.** Each download-client requirer asks for a category; the charm creates it
with the save path ``/data/downloads/<category>``. That documented save path is the
marker of a managed category: a same-named category with another path is the user's
and is left alone (and reported), and only categories with the marker are deleted once
no relation asks for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from charmarr_interfaces.vpn_gateway import Gateway

DOWNLOADS_ROOT = "/data/downloads"

STRING_PROXY_TYPE_SINCE = (4, 6, 0)
"""First qBittorrent release whose ``proxy_type`` is a string."""

_SOCKS5_AUTH_INT = 4
_NO_PROXY_INT = 0


def category_path(category: str, root: str = DOWNLOADS_ROOT) -> str:
    """The save path of the managed category ``category``."""
    return f"{root}/{category}"


def is_managed_category(name: str, save_path: str, root: str = DOWNLOADS_ROOT) -> bool:
    """Whether a category carries the managed marker (its documented save path)."""
    return save_path.rstrip("/") == category_path(name, root)


def download_changes(current: Mapping[str, Any], root: str = DOWNLOADS_ROOT) -> dict[str, Any]:
    """The preferences to send so that a category-only add lands in its category's folder."""
    changes: dict[str, Any] = {}
    if current.get("auto_tmm_enabled") is not True:
        changes["auto_tmm_enabled"] = True
    if str(current.get("save_path", "")).rstrip("/") != root:
        changes["save_path"] = root
    return changes


def preference_changes(
    current: Mapping[str, Any],
    version: tuple[int, int, int],
    gateway: Gateway | None,
    *,
    keep_proxy: bool = False,
    root: str = DOWNLOADS_ROOT,
) -> dict[str, Any]:
    """Everything the charm owns in ``app/preferences`` that differs (empty: nothing).

    ``keep_proxy`` leaves the proxy as it is (the gateway's data cannot be read now).
    """
    changes = download_changes(current, root)
    if not keep_proxy:
        changes |= proxy_changes(current, version, gateway)
    return changes


def string_proxy_type(version: tuple[int, int, int]) -> bool:
    """Whether this qBittorrent release takes ``proxy_type`` as a string (4.6+)."""
    return version >= STRING_PROXY_TYPE_SINCE


def proxied_preferences(version: tuple[int, int, int], gateway: Gateway) -> dict[str, Any]:
    """Preferences that send peers, trackers and hostname lookups through the gateway."""
    prefs: dict[str, Any] = {
        "proxy_ip": gateway.socks5_host,
        "proxy_port": gateway.socks5_port,
        "proxy_username": gateway.username,
        "proxy_password": gateway.password,
        "proxy_peer_connections": True,
        "proxy_hostname_lookup": True,
        "dht": False,
        "lsd": False,
        "upnp": False,
    }
    if string_proxy_type(version):
        prefs |= {
            "proxy_type": "SOCKS5",
            "proxy_auth_enabled": True,
            "proxy_bittorrent": True,
            "proxy_rss": True,
            "proxy_misc": True,
        }
    else:
        prefs |= {"proxy_type": _SOCKS5_AUTH_INT, "proxy_torrents_only": False}
    return prefs


def unproxied_preferences(version: tuple[int, int, int]) -> dict[str, Any]:
    """Preferences with the charm's proxy removed and DHT, LSD and UPnP/NAT-PMP back on."""
    prefs: dict[str, Any] = {
        "proxy_username": "",
        "proxy_password": "",
        "dht": True,
        "lsd": True,
        "upnp": True,
    }
    if string_proxy_type(version):
        prefs |= {"proxy_type": "None", "proxy_auth_enabled": False}
    else:
        prefs["proxy_type"] = _NO_PROXY_INT
    return prefs


def is_charm_proxy(current: Mapping[str, Any]) -> bool:
    """Whether the current preferences carry the charm's proxy signature."""
    socks5_auth = current.get("proxy_type") == _SOCKS5_AUTH_INT or (
        current.get("proxy_type") == "SOCKS5" and current.get("proxy_auth_enabled") is True
    )
    return socks5_auth and not any(current.get(k) for k in ("dht", "lsd", "upnp"))


def proxy_changes(
    current: Mapping[str, Any], version: tuple[int, int, int], gateway: Gateway | None
) -> dict[str, Any]:
    """The preferences to send so that the proxy matches the gateway (empty: nothing).

    Args:
        current: what ``app/preferences`` returned.
        version: the running release (selects the ``proxy_type`` form).
        gateway: the ready VPN gateway, or None to remove the charm's proxy.
    """
    if gateway is not None:
        wanted = proxied_preferences(version, gateway)
    elif is_charm_proxy(current):
        wanted = unproxied_preferences(version)
    else:
        return {}
    return {k: v for k, v in wanted.items() if current.get(k) != v}


@dataclass
class CategoryPlan:
    """What to do to the categories so that they match the live relations."""

    create: dict[str, str] = field(default_factory=dict)
    """name -> save path."""
    delete: list[str] = field(default_factory=list)
    user_owned: list[str] = field(default_factory=list)
    """Wanted names that exist with another save path: the user's, left alone."""

    @property
    def empty(self) -> bool:
        """True when no write is needed."""
        return not (self.create or self.delete)


def plan_categories(
    wanted: set[str], existing: Mapping[str, str], root: str = DOWNLOADS_ROOT
) -> CategoryPlan:
    """Creates for wanted categories, deletes for managed orphans; user ones untouched."""
    plan = CategoryPlan()
    for name in sorted(wanted):
        if name not in existing:
            plan.create[name] = category_path(name, root)
        elif not is_managed_category(name, existing[name], root):
            plan.user_owned.append(name)
    for name, path in sorted(existing.items()):
        if name not in wanted and is_managed_category(name, path, root):
            plan.delete.append(name)
    return plan
