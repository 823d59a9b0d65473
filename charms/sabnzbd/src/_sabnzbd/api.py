"""A small client for SABnzbd's ``/api`` (query-string API, JSON output).

SABnzbd takes its API key as the ``apikey`` query parameter; ``mode=version`` is the only
call that needs none. A refused key is reported differently across releases: SABnzbd 3.7
and 4.5 answer HTTP 403 with the text ``API Key Incorrect`` (``API Key Required`` without
one); other releases and proxies answer HTTP 200 with ``error: API Key Incorrect`` or
``{"status": false, "error": "..."}``. All of them become :class:`ApiKeyRefusedError`.
Nothing here ever puts the key or a proxy password into an exception message
(``charmarr_common.http`` drops query strings).
"""

from __future__ import annotations

from typing import Any

from charmarr_common.errors import CharmarrError
from charmarr_common.http import HttpClient, Response, WorkloadHttpError

_KEY_ERRORS = ("api key incorrect", "api key required")
_HOST_ERROR = "hostname verification failed"


class ApiKeyRefusedError(CharmarrError):
    """SABnzbd refused the API key."""


class SabnzbdApiError(WorkloadHttpError):
    """SABnzbd answered with an error or with something that is not its API."""


class SabnzbdClient:
    """Talks to one SABnzbd.

    Args:
        base_url: e.g. ``http://localhost:8080``.
        api_key: the key to send (None for anonymous calls only).
        host: a ``Host`` header to send instead of the URL's (tests of ``host_whitelist``).
        timeout: seconds per request.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        host: str | None = None,
        timeout: float = 5.0,
    ):
        headers = {"Host": host} if host else None
        self._http = HttpClient(base_url, name="sabnzbd", headers=headers, timeout=timeout)
        self.api_key = api_key

    def call(self, mode: str, *, anonymous: bool = False, **params: Any) -> Any:
        """Call ``/api?mode=<mode>`` and return the decoded JSON answer.

        Raises:
            WorkloadUnreachableError: SABnzbd did not answer.
            ApiKeyRefusedError: the key was refused.
            SabnzbdApiError: any other error answer or garbage.
        """
        query: dict[str, Any] = {"mode": mode, "output": "json", **params}
        if not anonymous:
            query["apikey"] = self.api_key or ""
        try:
            response = self._http.request("GET", "/api", params=query, expect=(200, 403))
        except WorkloadHttpError as e:
            raise SabnzbdApiError(
                f"sabnzbd answered mode={mode} with HTTP {e.http_status}", e.http_status
            ) from None
        if response.status == 403:
            body = response.text.strip().lower()
            if _HOST_ERROR in body:
                raise SabnzbdApiError("sabnzbd refused the Host header (host_whitelist)", 403)
            if body and "api key" not in body:
                raise SabnzbdApiError(f"sabnzbd denied mode={mode} (HTTP 403)", 403)
            raise ApiKeyRefusedError("sabnzbd refused the API key")
        return self._decode(mode, response)

    def _decode(self, mode: str, response: Response) -> Any:
        text = response.text.strip()
        lowered = text.lower()
        if any(lowered.startswith(f"error: {e}") or lowered == e for e in _KEY_ERRORS):
            raise ApiKeyRefusedError("sabnzbd refused the API key")
        if _HOST_ERROR in lowered:
            raise SabnzbdApiError("sabnzbd refused the Host header (host_whitelist)")
        try:
            answer = response.json()
        except ValueError:
            raise SabnzbdApiError(f"sabnzbd answered mode={mode} with non-JSON") from None
        if isinstance(answer, dict) and answer.get("status") is False:
            error = str(answer.get("error", ""))
            if error.lower() in _KEY_ERRORS:
                raise ApiKeyRefusedError("sabnzbd refused the API key")
            raise SabnzbdApiError(f"sabnzbd refused mode={mode}: {error[:80]}")
        if not isinstance(answer, dict):
            raise SabnzbdApiError(f"sabnzbd answered mode={mode} with unexpected JSON")
        return answer

    # -- calls ----------------------------------------------------------------------------

    def version(self) -> str:
        """SABnzbd's version (anonymous)."""
        answer = self.call("version", anonymous=True)
        version = answer.get("version")
        if not isinstance(version, str) or not version:
            raise SabnzbdApiError("sabnzbd answered mode=version without a version")
        return version

    def check_key(self) -> None:
        """Raise :class:`ApiKeyRefusedError` unless the key is accepted."""
        self.categories()

    def categories(self) -> dict[str, str]:
        """Category name -> its folder (``dir``), the built-in ``*`` included."""
        answer = self.call("get_config", section="categories")
        config = answer.get("config")
        if not isinstance(config, dict):
            raise SabnzbdApiError("sabnzbd answered get_config without config")
        entries = config.get("categories", [])
        if not isinstance(entries, list):
            raise SabnzbdApiError("sabnzbd answered get_config with bad categories")
        result: dict[str, str] = {}
        for entry in entries:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                result[entry["name"]] = str(entry.get("dir") or "")
        return result

    def category_names(self) -> list[str]:
        """``mode=get_cats``: the category names (SABnzbd adds its suggestions on this read)."""
        answer = self.call("get_cats")
        names = answer.get("categories")
        if not isinstance(names, list):
            raise SabnzbdApiError("sabnzbd answered get_cats without categories")
        return [str(n) for n in names]

    def set_category(self, name: str, folder: str) -> None:
        """Create or update the category ``name`` saving under ``folder``."""
        self.call("set_config", section="categories", keyword=name, dir=folder)

    def delete_category(self, name: str) -> None:
        """Delete the category ``name``."""
        self.call("del_config", section="categories", keyword=name)

    def misc(self, keyword: str) -> str:
        """A ``[misc]`` setting's current value."""
        answer = self.call("get_config", section="misc", keyword=keyword)
        config = answer.get("config")
        misc = config.get("misc") if isinstance(config, dict) else None
        if not isinstance(misc, dict) or keyword not in misc:
            raise SabnzbdApiError(f"sabnzbd has no setting {keyword}")
        return str(misc[keyword] or "")

    def set_misc(self, keyword: str, value: str) -> None:
        """Set a ``[misc]`` setting (SABnzbd saves it to sabnzbd.ini itself)."""
        self.call("set_config", section="misc", keyword=keyword, value=value)

    def rotate_api_key(self) -> str:
        """``mode=config&name=set_apikey``: SABnzbd makes, saves and returns a new key."""
        answer = self.call("config", name="set_apikey")
        key = answer.get("apikey")
        if not isinstance(key, str) or len(key) < 16:
            raise SabnzbdApiError("sabnzbd answered set_apikey without a new key")
        return key

    def pause(self) -> None:
        """Pause the download queue."""
        self.call("pause")

    def resume(self) -> None:
        """Resume the download queue."""
        self.call("resume")
