"""SABnzbd-specific helpers of the sabnzbd-k8s charm.

- :mod:`.ini`: edit ``sabnzbd.ini`` keeping every setting SABnzbd wrote;
- :mod:`.api`: the client of SABnzbd's ``/api``;
- this module: the workload's constants, the Pebble layer, the rendered settings, the
  managed-category rule and the SOCKS5 proxy URL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from charmarr_common import cleanup
from charmarr_common.errors import CharmarrError

from . import ini
from .api import ApiKeyRefusedError, SabnzbdClient

if TYPE_CHECKING:
    from ops import pebble

logger = logging.getLogger(__name__)

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

PYTHON = "/lsiopy/bin/python3"
"""The image's Python: SABnzbd's dependencies are installed in the ``/lsiopy`` venv."""

COMMAND = (
    f"{PYTHON} /app/sabnzbd/SABnzbd.py"
    f" --config-file {INI_PATH} --server 0.0.0.0:{PORT} --browser 0"
)
"""How the linuxserver image's ``svc-sabnzbd`` runs SABnzbd, minus s6 (``/app/sabnzbd``)."""

ENVIRONMENT = {
    "HOME": CONFIG_DIR,
    "PYTHONIOENCODING": "utf-8",
    "VIRTUAL_ENV": "/lsiopy",
    "PATH": "/lsiopy/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
}
"""The image's environment (its Dockerfile and baseimage-alpine's): par2, unrar and 7z
are found on this PATH."""

SUGGESTED_CATEGORIES = frozenset({"movies", "tv", "audio", "software"})
"""The categories SABnzbd adds, with no folder, with ``*`` on the first full read of its
categories (sabnzbd/config.py ``get_categories``, 3.7 and 4.x)."""


DEFAULT_URL_BASE = ""
"""SABnzbd's own ``url_base``: empty in 4.5 (sabnzbd/cfg.py ``url_base = OptionStr("misc",
"url_base", "")``; the real 4.5.0 daemon saves ``url_base = ""``); the charm writes another
only for an ingress."""


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
                "environment": dict(ENVIRONMENT),
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
    url_base: str = "",
) -> str:
    """``sabnzbd.ini`` with the charm's settings; every other setting as SABnzbd left it.

    Args:
        current: the file as it is (None before the first start).
        api_key: the key in the ``sabnzbd-api-key`` secret.
        whitelist: names that must be in ``host_whitelist`` (the user's extra names stay).
        proxy_url: the wanted ``socks5_proxy_url`` ("" for none; None leaves it as it is).
        url_base: the ingress's path prefix; "" keeps SABnzbd's default (empty)
            (it serves at ``/`` as well either way: SABnzbd.py mounts both).

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
    # mirrors SABnzbd sabnzbd/cfg.py url_base (default empty in 4.5); read at start only
    wanted_base = url_base or DEFAULT_URL_BASE
    if values.get("url_base", DEFAULT_URL_BASE) != wanted_base:
        updates["url_base"] = wanted_base
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


@dataclass
class CategoryResult:
    """What :func:`converge_categories` did and found."""

    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    """Wanted names taken by a category of the user's (another folder): left alone."""
    served: list[str] = field(default_factory=list)


def _adoptable(name: str, folder: str) -> bool:
    """A suggestion SABnzbd added itself (no folder) that a requirer asks for by name."""
    return name in SUGGESTED_CATEGORIES and not folder.strip()


def converge_categories(
    client: SabnzbdClient, wanted: Mapping[str, str], *, delete: bool = True
) -> CategoryResult:
    """Create the wanted categories, delete managed ones nobody wants, keep the user's.

    SABnzbd adds ``*`` and its suggestions (movies, tv, audio, software, no folder) on the
    first full read of its categories, replacing a same-named category made before that
    read. So that never undoes the charm's work, that read is made first; a wanted
    suggestion with no folder is then adopted: given its folder, and managed from then on.

    Args:
        client: SABnzbd, with a working key.
        wanted: category name -> folder, one per live download-client relation (empty
            once the last relation is gone).
        delete: whether managed categories nobody wants may go (False while a live
            relation's category is unknown).
    """
    existing = client.categories()
    if BUILTIN_CATEGORY not in existing:
        client.category_names()  # SABnzbd adds "*" and its suggestions now
        existing = client.categories()
    adopt = {n: wanted[n] for n in wanted if n in existing and _adoptable(n, existing[n])}
    steps = cleanup.plan(
        wanted,
        existing.items(),
        name_of=lambda entry: entry[0],
        is_managed=lambda name: is_managed_category(name, existing[name]),
    )
    result = CategoryResult()
    for name, folder in sorted({**steps.create, **adopt}.items()):
        client.set_category(name, folder)
        result.created.append(name)
        logger.info("created category %s", name)
    for name in steps.delete if delete else ():
        client.delete_category(name)
        result.deleted.append(name)
        logger.info("deleted category %s: its relation is gone", name)
    result.foreign = sorted(
        n
        for n in wanted
        if n in existing and n not in adopt and not is_managed_category(n, existing[n])
    )
    result.served = sorted(set(wanted) - set(result.foreign))
    return result


def rotate_through_api(base_url: str, old: str) -> str:
    """``set_apikey`` with the current key, then confirm: the new key works, the old does not.

    Raises:
        WorkloadUnreachableError: SABnzbd did not answer (the caller falls back to the file).
        CharmarrError: SABnzbd did not take a new key; nothing is to be published.
    """
    new = SabnzbdClient(base_url, old).rotate_api_key()
    confirm_key(base_url, new, old)
    return new


def confirm_key(base_url: str, new: str, old: str) -> None:
    """Raise CharmarrError unless SABnzbd accepts ``new`` and refuses ``old``."""
    try:
        SabnzbdClient(base_url, new).check_key()
    except ApiKeyRefusedError:
        raise CharmarrError("sabnzbd refused its new API key; old key kept") from None
    try:
        SabnzbdClient(base_url, old).check_key()
    except ApiKeyRefusedError:
        return
    raise CharmarrError("sabnzbd still accepts the old API key; not published")
