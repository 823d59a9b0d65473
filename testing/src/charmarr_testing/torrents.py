"""Small ``.torrent`` files made in a test, and adding them the way Radarr and Sonarr do.

Radarr and Sonarr add a torrent to qBittorrent with ``torrents/add`` carrying the file and
its ``category`` and no ``savepath`` and no ``autoTMM``, so where it lands is decided by
qBittorrent's own defaults and categories. :func:`add_like_arr` sends that request, to
the fake and to a real qbittorrent-nox alike.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from charmarr_common.http import HttpClient

PIECE_LENGTH = 16384


def bencode(value: Any) -> bytes:
    """The bencoding of ints, bytes, str, lists and dicts (keys sorted, as BEP 3 says)."""
    if isinstance(value, bool):
        raise TypeError("bencode has no booleans")
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in items) + b"e"
    raise TypeError(f"cannot bencode {type(value).__name__}")


def make_torrent(name: str, data: bytes, announce: str | None = None) -> tuple[bytes, str]:
    """A single-file v1 torrent of ``data``: (the file's bytes, its info-hash in hex).

    ``announce`` should be a loopback URL (or None: no tracker), so that nothing in a
    test reaches past this machine.
    """
    pieces = b"".join(
        hashlib.sha1(data[i : i + PIECE_LENGTH]).digest()  # noqa: S324 - BEP 3's hash
        for i in range(0, max(len(data), 1), PIECE_LENGTH)
    )
    info = {"name": name, "length": len(data), "piece length": PIECE_LENGTH, "pieces": pieces}
    meta: dict[str, Any] = {"info": info}
    if announce:
        meta["announce"] = announce
    info_hash = hashlib.sha1(bencode(info)).hexdigest()  # noqa: S324 - BEP 3's hash
    return bencode(meta), info_hash


def add_like_arr(http: HttpClient, torrent: bytes, category: str) -> None:
    """``torrents/add`` as Radarr and Sonarr send it: the file, its category, stopped.

    Mirrors Radarr/Sonarr src/NzbDrone.Core/Download/Clients/QBittorrent/QBittorrentProxyV2.cs
    (AddTorrentFromFile, AddTorrentDownloadFormParameters): no savepath, no autoTMM.
    """
    boundary = f"charmarr{secrets.token_hex(8)}"
    fields = [
        ('name="torrents"; filename="test.torrent"', "application/x-bittorrent", torrent),
        ('name="category"', None, category.encode()),
        # "stopped" since WebAPI 2.11 (qBittorrent 5.0), "paused" before; each ignores the other.
        ('name="stopped"', None, b"true"),
        ('name="paused"', None, b"true"),
    ]
    body = b""
    for disposition, content_type, value in fields:
        body += f"--{boundary}\r\nContent-Disposition: form-data; {disposition}\r\n".encode()
        if content_type:
            body += f"Content-Type: {content_type}\r\n".encode()
        body += b"\r\n" + value + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    http.request(
        "POST",
        "/api/v2/torrents/add",
        body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


def save_path_of(http: HttpClient, info_hash: str) -> str | None:
    """The save path qBittorrent gave the torrent (None while it is not listed yet)."""
    listed = http.get_json("/api/v2/torrents/info", params={"hashes": info_hash})
    if not isinstance(listed, list) or not listed:
        return None
    return str(listed[0].get("save_path", "")).rstrip("/")
