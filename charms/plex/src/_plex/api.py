"""The two HTTP conversations of the charm: Plex's ``/identity`` and plex.tv's claim exchange.

``/identity`` is anonymous and says whether the server is claimed. The claim exchange
turns a one-time claim token (from https://plex.tv/claim, valid about 4 minutes) into the
server's own plex.tv token: ``POST https://plex.tv/api/claim/exchange?token=<claim>`` sent
as the server (its ``ProcessedMachineIdentifier`` as ``X-Plex-Client-Identifier``), answered
with an XML ``<user>`` holding ``<authentication-token>``.

Neither token ever goes into an exception message: the shared HTTP client drops the query
string from its errors, and this module's own messages name only status codes.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from charmarr_common.errors import CharmarrError, WaitingError
from charmarr_common.http import HttpClient, WorkloadHttpError, WorkloadUnreachableError
from charmarr_common.workload import poll

PORT = 32400
PLEX_URL = f"http://localhost:{PORT}"
PLEX_TV_URL = "https://plex.tv"
CLAIM_PATH = "/api/claim/exchange"
IDENTITY_PATH = "/identity"


@dataclass(frozen=True)
class Identity:
    """What ``/identity`` says."""

    claimed: bool
    machine_identifier: str
    version: str


class PlexAnswerError(CharmarrError):
    """Plex answered, but not with its identity."""


class ClaimRejectedError(CharmarrError):
    """plex.tv refused the claim token (expired, already used or mistyped)."""


class PlexTvUnreachableError(WaitingError):
    """plex.tv did not answer or answered with a server error; the claim is retried."""


def _xml_root(text: str) -> ET.Element | None:
    try:
        # Answers from Plex and plex.tv; expat rejects entity-expansion bombs.
        return ET.fromstring(text)  # noqa: S314
    except ET.ParseError:
        return None


def parse_identity(body: str) -> Identity:
    """Parse ``/identity`` (XML, or JSON if Plex chose it).

    Raises:
        PlexAnswerError: the body is not Plex's identity.
    """
    attrs: dict[str, object] | None = None
    text = body.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        container = data.get("MediaContainer") if isinstance(data, dict) else None
        attrs = container if isinstance(container, dict) else None
    else:
        root = _xml_root(text)
        if root is not None and root.tag == "MediaContainer":
            attrs = dict(root.attrib)
    claimed = attrs.get("claimed") if attrs is not None else None
    if attrs is None or claimed not in ("0", "1", True, False, 0, 1):
        raise PlexAnswerError(
            f"plex answered {IDENTITY_PATH} with something that is not Plex's identity; "
            "is another program listening on port 32400?"
        )
    return Identity(
        claimed=claimed in ("1", True, 1),
        machine_identifier=str(attrs.get("machineIdentifier", "")),
        version=str(attrs.get("version", "")),
    )


def get_identity(timeout: float = 5.0) -> Identity:
    """Ask the local server who it is.

    Raises:
        WorkloadUnreachableError (Waiting), WorkloadHttpError (5xx: Waiting, else Blocked),
        PlexAnswerError (Blocked).
    """
    client = HttpClient(PLEX_URL, name="plex", timeout=timeout)
    response = client.request("GET", IDENTITY_PATH, headers={"Accept": "application/xml"})
    return parse_identity(response.text)


def plex_headers(client_identifier: str, version: str) -> dict[str, str]:
    """The ``X-Plex-*`` headers a server sends to plex.tv (no token among them)."""
    return {
        "Accept": "application/xml",
        "X-Plex-Client-Identifier": client_identifier,
        "X-Plex-Product": "Plex Media Server",
        "X-Plex-Version": version or "1.1",
        "X-Plex-Provides": "server",
        "X-Plex-Platform": "Linux",
        "X-Plex-Platform-Version": "1.0",
        "X-Plex-Device": "Linux",
        "X-Plex-Device-Name": "PlexMediaServer",
    }


def _token_in(body: str) -> str:
    root = _xml_root(body.strip())
    if root is None:
        return ""
    token = (root.findtext("authentication-token") or "").strip()
    return token or root.get("authenticationToken", "") or root.get("authToken", "")


def exchange_claim_token(
    claim_token: str, client_identifier: str, version: str, timeout: float = 10.0
) -> str:
    """Trade a claim token for the server's plex.tv token.

    Raises:
        ClaimRejectedError: plex.tv refused the token or answered without a server token.
        PlexTvUnreachableError: plex.tv did not answer, or answered with a server error.
    """
    client = HttpClient(
        PLEX_TV_URL, name="plex.tv", headers=plex_headers(client_identifier, version),
        timeout=timeout,
    )  # fmt: skip
    try:
        response = client.request(
            "POST", CLAIM_PATH, params={"token": claim_token}, expect=(200, 201)
        )
    except WorkloadUnreachableError:
        raise PlexTvUnreachableError(
            "plex.tv unreachable for the claim; retrying on the next update-status"
        ) from None
    except WorkloadHttpError as e:
        code = e.http_status
        if code is not None and (code >= 500 or code == 429):
            raise PlexTvUnreachableError(
                f"plex.tv answered the claim with HTTP {code}; retrying on the next update-status"
            ) from None
        raise ClaimRejectedError(f"plex.tv rejected the claim token (HTTP {code})") from None
    token = _token_in(response.text)
    if not token:
        raise ClaimRejectedError("plex.tv answered the claim without a server token")
    return token


def wait_for_identity(attempts: int, delay: float, *, claimed: bool = False) -> Identity | None:
    """Poll ``/identity`` at most ``attempts`` times, ``delay`` apart.

    Args:
        attempts: the most polls.
        delay: seconds between polls.
        claimed: wait until the server also says it is claimed.

    Returns:
        The first identity that answers (and is claimed, if asked), or None.
    """

    def check() -> Identity | None:
        try:
            identity = get_identity(timeout=2.0)
        except CharmarrError:
            return None
        return identity if identity.claimed or not claimed else None

    return poll(check, attempts=attempts, delay=delay)
