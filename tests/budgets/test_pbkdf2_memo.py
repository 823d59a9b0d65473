"""qBittorrent's WebUI hash is derived again only when the hash or the password changed.

``credentials_match`` with a memo kept between hooks recognises a (stored hash, password)
pair it verified before by an HMAC fingerprint, never the password itself.
"""

from __future__ import annotations

from _qbittorrent import config as conf
from hook_cost import count_pbkdf2

USER, PASSWORD = "admin", "p" * 32


def _conf(password: str = PASSWORD) -> str:
    return conf.render(None, USER, password)


def test_a_pair_verified_before_is_not_derived_again():
    text, memo = _conf(), {}
    with count_pbkdf2() as derivations:
        assert conf.credentials_match(text, USER, PASSWORD, verified=memo)
        assert conf.credentials_match(text, USER, PASSWORD, verified=memo)
    assert derivations == [1]
    assert PASSWORD not in "".join(memo.values())


def test_a_rewritten_hash_or_a_rotated_password_is_derived_again():
    text, memo = _conf(), {}
    assert conf.credentials_match(text, USER, PASSWORD, verified=memo)
    rehashed = _conf()  # qBittorrent's own hash of the same password: a new salt
    other = _conf("n" * 32)
    with count_pbkdf2() as derivations:
        assert conf.credentials_match(rehashed, USER, PASSWORD, verified=memo)
        assert not conf.credentials_match(rehashed, USER, "n" * 32, verified=memo)
        assert not conf.credentials_match(other, USER, PASSWORD, verified=memo)
    assert derivations == [3]


def test_a_wrong_username_or_unaccepted_notice_never_matches_from_the_memo():
    text, memo = _conf(), {}
    assert conf.credentials_match(text, USER, PASSWORD, verified=memo)
    assert not conf.credentials_match(text, "other", PASSWORD, verified=memo)
    unaccepted = text.replace("Accepted=true", "Accepted=false")
    assert not conf.credentials_match(unaccepted, USER, PASSWORD, verified=memo)
