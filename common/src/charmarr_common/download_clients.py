"""What qBittorrent and SABnzbd do alike as `download-client` providers."""

from __future__ import annotations

from charmarr_interfaces.download_client import CategoryRequests

from .charm import Report
from .errors import CharmarrError, WaitingError


def report_category_requests(requests: CategoryRequests, report: Report) -> None:
    """Put what is wrong with the related apps' requests into the hook's report.

    Unreadable data is Blocked naming the relation and field; a relation that has not
    asked yet is Waiting. Either way the provider keeps every managed category this hook
    (see :attr:`CategoryRequests.complete`).
    """
    for invalid in requests.invalid:
        report.add(CharmarrError(invalid.message))
    for app in requests.waiting_for:
        report.add(WaitingError(f"waiting for {app} to ask for a category"))
