"""Every error a Charmarr charm turns into a status, in one place.

:class:`CharmarrError` and :class:`WaitingError` come from the contract
(:mod:`charmarr_interfaces.errors`), whose readers raise them; the errors of charm
behaviour extend them here.
"""

from __future__ import annotations

from charmarr_interfaces.errors import CharmarrError, WaitingError
from charmarr_interfaces.secret_ids import (
    MalformedSecretIdError,
    SecretError,
    SecretKeyMissingError,
    SecretNotFoundError,
    SecretNotGrantedError,
)

__all__ = [
    "CharmarrError",
    "InvalidConfigError",
    "MalformedSecretIdError",
    "SecretError",
    "SecretKeyMissingError",
    "SecretNotFoundError",
    "SecretNotGrantedError",
    "WaitingError",
]


class InvalidConfigError(CharmarrError):
    """A config option has a value the charm cannot use."""
