"""The errors the contract's readers raise: each becomes a unit status.

The base class lives here, in the lowest layer, because reading a relation or a secret is
where most problems are first seen; the charms' own errors
(:mod:`charmarr_common.errors`) extend it. Every message is safe to show: it names the
fixing action and never holds secret content.
"""

from __future__ import annotations

import ops


class CharmarrError(Exception):
    """An error that becomes a unit status; its message is safe to show."""

    status_type: type[ops.StatusBase] = ops.BlockedStatus

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    @property
    def status(self) -> ops.StatusBase:
        """The status that tells the operator what is wrong and how to fix it."""
        return self.status_type(self.message)


class WaitingError(CharmarrError):
    """Something that resolves by itself (a peer still starting, a grant on its way)."""

    status_type = ops.WaitingStatus
