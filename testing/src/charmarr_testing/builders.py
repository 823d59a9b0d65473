"""Build ``ops.testing`` relations and secrets as the *remote* side of an interface would.

Each builder returns a :class:`Remote`: the relation as the local charm sees it (remote app
databag filled in through the interface's own pydantic model) and the secrets the remote
side granted to it (``owner=None``: readable, not manageable). Put both into the State.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ops import testing

from charmarr_common.rotation import generate_token
from charmarr_interfaces import download_client, media_indexer, media_server, vpn_gateway
from charmarr_interfaces._databag import AppData
from charmarr_interfaces.endpoint import encode_app_data


@dataclass
class Remote:
    """A related application as seen from the charm under test."""

    relation: testing.Relation
    secrets: list[testing.Secret] = field(default_factory=list)

    @property
    def secret(self) -> testing.Secret:
        """The (first) secret the remote side granted."""
        return self.secrets[0]

    def content(self, index: int = 0) -> dict[str, str]:
        """The latest content of a granted secret."""
        return dict(self.secrets[index].latest_content)


def granted_secret(content: dict[str, str], **kwargs: object) -> testing.Secret:
    """A secret some other application owns and granted to the charm under test."""
    return testing.Secret(content, **kwargs)  # type: ignore[arg-type]


def _relation(
    endpoint: str,
    remote_app: str,
    data: AppData | None,
    relation_id: int | None,
    remote_units: int = 1,
) -> testing.Relation:
    kwargs: dict[str, object] = {
        "endpoint": endpoint,
        "interface": endpoint,
        "remote_app_name": remote_app,
        "remote_app_data": encode_app_data(data) if data is not None else {},
        "remote_units_data": {i: {} for i in range(remote_units)},
    }
    if relation_id is not None:
        kwargs["id"] = relation_id
    return testing.Relation(**kwargs)  # type: ignore[arg-type]


def media_indexer_from_prowlarr(
    *,
    remote_app: str = "prowlarr",
    url: str | None = None,
    api_key: str | None = None,
    relation_id: int | None = None,
) -> Remote:
    """Prowlarr's side of ``media-indexer``, for testing Radarr or Sonarr."""
    secret = granted_secret({media_indexer.API_KEY: api_key or generate_token()})
    data = media_indexer.IndexerProviderData(
        url=url or f"http://{remote_app}-0.{remote_app}-endpoints.media.svc.cluster.local:9696",
        api_key_secret_id=secret.id,
    )
    relation = _relation(media_indexer.INTERFACE, remote_app, data, relation_id)
    return Remote(relation, [secret])


def media_indexer_from_arr(
    *,
    kind: media_indexer.ArrKind = "radarr",
    remote_app: str | None = None,
    url: str | None = None,
    api_key: str | None = None,
    relation_id: int | None = None,
) -> Remote:
    """Radarr's or Sonarr's side of ``media-indexer``, for testing Prowlarr."""
    app = remote_app or kind
    port = 7878 if kind == "radarr" else 8989
    secret = granted_secret({media_indexer.API_KEY: api_key or generate_token()})
    data = media_indexer.IndexerRequirerData(
        url=url or f"http://{app}-0.{app}-endpoints.media.svc.cluster.local:{port}",
        kind=kind,
        api_key_secret_id=secret.id,
    )
    return Remote(_relation(media_indexer.INTERFACE, app, data, relation_id), [secret])


def download_client_from_client(
    *,
    kind: download_client.ClientKind = "qbittorrent",
    remote_app: str | None = None,
    url: str | None = None,
    credentials: dict[str, str] | None = None,
    relation_id: int | None = None,
) -> Remote:
    """QBittorrent's or SABnzbd's side of ``download-client``, for testing Radarr/Sonarr."""
    app = remote_app or kind
    if credentials is None:
        credentials = (
            {"username": "admin", "password": generate_token()}
            if kind == "qbittorrent"
            else {"api-key": generate_token()}
        )
    secret = granted_secret(credentials)
    data = download_client.DownloadClientProviderData(
        url=url or f"http://{app}-0.{app}-endpoints.media.svc.cluster.local:8080",
        kind=kind,
        credentials_secret_id=secret.id,
    )
    return Remote(_relation(download_client.INTERFACE, app, data, relation_id), [secret])


def download_client_from_arr(
    *,
    kind: str = "radarr",
    remote_app: str | None = None,
    category: str | None = None,
    relation_id: int | None = None,
) -> Remote:
    """Radarr's or Sonarr's side of ``download-client``, for testing a download client."""
    app = remote_app or kind
    data = download_client.DownloadClientRequirerData(
        kind=kind,  # type: ignore[arg-type]
        category=category or app,
    )
    return Remote(_relation(download_client.INTERFACE, app, data, relation_id))


def vpn_gateway_from_gluetun(
    *,
    remote_app: str = "gluetun",
    connected: bool = True,
    public_ip: str | None = "203.0.113.7",
    proxy_credentials: dict[str, str] | None = None,
    control_key: str | None = None,
    relation_id: int | None = None,
) -> Remote:
    """Gluetun's side of ``vpn-gateway``: proxy-credentials and this relation's control key."""
    proxy = granted_secret(
        proxy_credentials
        or {"username": f"proxy-{generate_token(4)}", "password": generate_token()}
    )
    control = granted_secret({"api-key": control_key or generate_token()})
    host = f"{remote_app}-0.{remote_app}-endpoints.media.svc.cluster.local"
    data = vpn_gateway.VpnGatewayProviderData(
        http_proxy_url=f"http://{host}:8888",
        socks5_proxy_url=f"socks5://{host}:1080",
        control_url=f"http://{host}:8000",
        proxy_credentials_secret_id=proxy.id,
        control_secret_id=control.id,
        connected=connected,
        public_ip=public_ip if connected else None,
    )
    return Remote(
        _relation(vpn_gateway.INTERFACE, remote_app, data, relation_id), [proxy, control]
    )


def vpn_gateway_from_requirer(
    *, remote_app: str = "qbittorrent", relation_id: int | None = None
) -> Remote:
    """A download client's or Prowlarr's side of ``vpn-gateway`` (publishes nothing)."""
    return Remote(_relation(vpn_gateway.INTERFACE, remote_app, None, relation_id))


def media_server_from_plex(
    *,
    remote_app: str = "plex",
    url: str | None = None,
    token: str | None = None,
    relation_id: int | None = None,
) -> Remote:
    """Plex's side of ``media-server``, for testing Radarr or Sonarr."""
    secret = granted_secret({media_server.TOKEN: token or generate_token(10)})
    data = media_server.MediaServerProviderData(
        url=url or f"http://{remote_app}-0.{remote_app}-endpoints.media.svc.cluster.local:32400",
        token_secret_id=secret.id,
    )
    return Remote(_relation(media_server.INTERFACE, remote_app, data, relation_id), [secret])


def media_server_from_arr(*, remote_app: str = "radarr", relation_id: int | None = None) -> Remote:
    """Radarr's or Sonarr's side of ``media-server`` (publishes nothing)."""
    return Remote(_relation(media_server.INTERFACE, remote_app, None, relation_id))


def republished(
    state: testing.State, relation: testing.Relation, **fields: str
) -> tuple[testing.State, testing.Relation]:
    """``state`` after ``relation``'s remote app published ``fields`` over its app data.

    The values are raw databag strings, JSON-encoded as on the wire. The changed relation
    comes back too, for the ``relation-changed`` Juju then fires.
    """
    changed = dataclasses.replace(relation, remote_app_data={**relation.remote_app_data, **fields})
    others = [r for r in state.relations if r.id != relation.id]
    return dataclasses.replace(state, relations=[*others, changed]), changed
