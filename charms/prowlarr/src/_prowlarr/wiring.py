"""What Prowlarr wants in its own API, from the live relations (pure: no Juju, no HTTP)."""

from __future__ import annotations

from charmarr_common.cleanup import managed_name
from charmarr_interfaces.vpn_gateway import Gateway
from charmarr_servarr import api as servarr


def application(
    remote_app: str, kind: str, base_url: str, key: servarr.SecretSource, prowlarr_url: str
) -> servarr.Desired:
    """The Prowlarr application that syncs indexers to one related Radarr or Sonarr.

    ``key``: the secret holding that app's ``api-key`` (read only if the entry is written).
    """
    return servarr.prowlarr_application(
        servarr.MEDIA_MANAGERS[kind],
        name=managed_name(remote_app),
        prowlarr_url=prowlarr_url,
        base_url=base_url,
        credentials=key,
    )


def proxy_of(gateway: Gateway | None) -> servarr.Proxy | None:
    """Prowlarr's HTTP proxy through the VPN gateway (None: no proxy managed by Juju)."""
    if gateway is None:
        return None
    return servarr.Proxy(
        host=gateway.http_host,
        port=gateway.http_port,
        username=gateway.username,
        password=gateway.password,
    )
