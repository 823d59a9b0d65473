"""SABnzbd-specific helpers of the sabnzbd-k8s charm.

- :mod:`.ini`: edit ``sabnzbd.ini`` keeping every setting SABnzbd wrote;
- :mod:`.api`: the client of SABnzbd's ``/api``;
- this module: the workload's constants, the Pebble layer, the rendered settings, the
  managed-category rule and the SOCKS5 proxy URL.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from . import ini

if TYPE_CHECKING:
    from ops import pebble

PORT = 8080
CONTAINER = "sabnzbd"
SERVICE = "sabnzbd"
CONFIG_DIR = "/config"
INI_PATH = f"{CONFIG_DIR}/sabnzbd.ini"
LOCAL_URL = f"http://localhost:{PORT}"
DOWNLOADS = "/data/downloads"
INCOMPLETE_DIR = f"{DOWNLOADS}/incomplete"
COMPLETE_DIR = f"{DOWNLOADS}/complete"
USER_ID = 1000
GROUP_ID = 1000
BUILTIN_CATEGORY = "*"

COMMAND = (
    f"python3 /app/sabnzbd/SABnzbd.py --config-file {INI_PATH} --server 0.0.0.0:{PORT} --browser 0"
)
"""How the linuxserver image's own service runs SABnzbd, minus s6 (``/app/sabnzbd``)."""


def layer() -> pebble.LayerDict:
    """The Pebble layer: SABnzbd as user 1000, started by the charm, never at boot.

    ``startup: disabled`` keeps SABnzbd from running before the charm wrote sabnzbd.ini
    and from downloading after a pod restart while ``require-vpn`` says it must not.
    """
    return {
        "summary": "SABnzbd",
        "services": {
            SERVICE: {
                "override": "replace",
                "summary": "SABnzbd Usenet downloader",
                "command": COMMAND,
                "startup": "disabled",
                "user-id": USER_ID,
                "group-id": GROUP_ID,
                "environment": {"HOME": CONFIG_DIR, "PYTHONIOENCODING": "utf-8"},
            }
        },
        "checks": {
            f"{SERVICE}-ready": {
                "override": "replace",
                "level": "ready",
                "period": "30s",
                "threshold": 3,
                "http": {"url": f"{LOCAL_URL}/api?mode=version"},
            }
        },
    }


def host_whitelist(app: str, model: str, unit_number: int) -> list[str]:
    """The in-cluster names SABnzbd must accept in the ``Host`` header.

    The application's service (``<app>``, ``<app>.<model>``, ``...svc``,
    ``...svc.cluster.local``) and this unit's headless name in the same four forms.
    """
    names: list[str] = []
    for base in (app, f"{app}-{unit_number}.{app}-endpoints"):
        names += [base, f"{base}.{model}", f"{base}.{model}.svc"]
        names.append(f"{base}.{model}.svc.cluster.local")
    return names


def render_ini(
    current: str | None,
    *,
    api_key: str,
    whitelist: list[str],
    proxy_url: str | None,
) -> str:
    """``sabnzbd.ini`` with the charm's settings; every other setting as SABnzbd left it.

    Args:
        current: the file as it is (None before the first start).
        api_key: the key in the ``sabnzbd-api-key`` secret.
        whitelist: names that must be in ``host_whitelist`` (the user's extra names stay).
        proxy_url: the wanted ``socks5_proxy_url`` ("" for none; None leaves it as it is).

    Returns:
        ``current`` itself when nothing needs to change, so callers can compare.
    """
    values = ini.misc_values(current)
    updates: dict[str, ini.Value] = {}
    if values.get("api_key") != api_key:
        updates["api_key"] = api_key
    hosts = ini.misc_list(current, "host_whitelist")
    missing = [name for name in whitelist if name not in hosts]
    if missing:
        updates["host_whitelist"] = hosts + missing
    if not values.get("download_dir"):
        updates["download_dir"] = INCOMPLETE_DIR
    if not values.get("complete_dir"):
        updates["complete_dir"] = COMPLETE_DIR
    if proxy_url is not None and values.get("socks5_proxy_url", "") != proxy_url:
        updates["socks5_proxy_url"] = proxy_url
    if not updates and current is not None:
        return current
    return ini.with_misc(current, updates)


def category_dir(name: str) -> str:
    """The folder of the category managed for a requirer: ``/data/downloads/<category>``."""
    return f"{DOWNLOADS}/{name}"


def is_managed_category(name: str, folder: str) -> bool:
    """The managed marker: a category whose folder is exactly its documented folder.

    A same-named category with any other folder, and the built-in ``*``, are the user's.
    """
    return name != BUILTIN_CATEGORY and folder.rstrip("/") == category_dir(name)


_URL_SAFE = re.compile(r"^[A-Za-z0-9._~-]+$")


def socks5_url(host: str, port: int, username: str, password: str) -> str | None:
    """``socks5://<user>:<password>@host:port``, or None if SABnzbd could not parse it.

    SABnzbd hands ``urlparse(...).username/password`` to PySocks without unquoting, so
    the credentials must be plain URL-safe text.
    """
    if not (_URL_SAFE.match(username) and _URL_SAFE.match(password) and host):
        return None
    return f"socks5://{username}:{password}@{host}:{port}"
