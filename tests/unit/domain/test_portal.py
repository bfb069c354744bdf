"""Signed portal links: what a host platform signs, and every way a link is refused."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from vouchers.domain.portal import (
    BAD_LINK,
    EXPIRED_LINK,
    MAX_LINK_SECONDS,
    check_link,
    link_message,
    sign_link,
)
from vouchers.errors import AuthenticationError, ValidationError

KEY = "k" * 40
OTHER = "o" * 40
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SOON = int((NOW + timedelta(minutes=5)).timestamp())


def check(ref: str, expires: str, sig: str, *, keys: tuple[str, ...] = (KEY,)) -> object:
    return check_link(keys, ref, expires, sig, now=NOW)


def test_the_signature_is_hex_hmac_sha256_of_ref_newline_expiry() -> None:
    link = sign_link(KEY, "C1", SOON)

    expected = hmac.new(KEY.encode(), f"C1\n{SOON}".encode(), hashlib.sha256).hexdigest()
    assert link.signature == expected
    assert link_message("C1", SOON) == f"C1\n{SOON}".encode()
    assert link.query() == f"customer=C1&expires={SOON}&sig={expected}"
    assert link.url("https://v.example/") == f"https://v.example/portal/link?{link.query()}"


def test_a_fresh_link_is_accepted_also_with_an_upper_case_signature() -> None:
    link = sign_link(KEY, "acct:42@voip", SOON)

    assert check("acct:42@voip", str(SOON), link.signature) == link
    assert check("acct:42@voip", str(SOON), link.signature.upper()) == link


def test_a_link_signed_with_an_older_secret_verifies_during_rotation() -> None:
    link = sign_link(OTHER, "C1", SOON)

    assert check("C1", str(SOON), link.signature, keys=(KEY, OTHER)) == link
    with pytest.raises(AuthenticationError, match=BAD_LINK):
        check("C1", str(SOON), link.signature, keys=(KEY,))


@pytest.mark.parametrize(
    ("ref", "expires", "mangle"),
    [
        ("C2", str(SOON), lambda sig: sig),  # another customer
        ("C1", str(SOON + 60), lambda sig: sig),  # a later expiry
        ("C1", str(SOON), lambda sig: sig[:-1] + ("0" if sig[-1] != "0" else "1")),
        ("C1", str(SOON), lambda sig: sig[:-2]),  # truncated
        ("C1", str(SOON), lambda sig: ""),
        ("C1", "", lambda sig: sig),
        ("C1", "soon", lambda sig: sig),
        ("C1", f"{SOON}.0", lambda sig: sig),
        ("C1\n", str(SOON), lambda sig: sig),
        ("", str(SOON), lambda sig: sig),
    ],
)
def test_a_tampered_or_malformed_link_is_refused(ref: str, expires: str, mangle: object) -> None:
    signature = sign_link(KEY, "C1", SOON).signature

    with pytest.raises(AuthenticationError) as refused:
        check(ref, expires, mangle(signature))  # type: ignore[operator]
    assert refused.value.message == BAD_LINK


def test_an_expired_link_is_refused_as_expired() -> None:
    past = int((NOW - timedelta(seconds=1)).timestamp())
    now = int(NOW.timestamp())

    for expires in (past, now):
        link = sign_link(KEY, "C1", expires)
        with pytest.raises(AuthenticationError) as refused:
            check("C1", str(expires), link.signature)
        assert refused.value.message == EXPIRED_LINK


def test_a_link_that_would_live_longer_than_an_hour_is_refused() -> None:
    now = int(NOW.timestamp())
    longest = sign_link(KEY, "C1", now + MAX_LINK_SECONDS)
    too_long = sign_link(KEY, "C1", now + MAX_LINK_SECONDS + 1)

    assert check("C1", str(longest.expires), longest.signature) == longest
    with pytest.raises(AuthenticationError, match="at most 60 minutes"):
        check("C1", str(too_long.expires), too_long.signature)


def test_without_a_configured_secret_every_link_is_refused() -> None:
    link = sign_link(KEY, "C1", SOON)

    with pytest.raises(AuthenticationError, match=BAD_LINK):
        check("C1", str(SOON), link.signature, keys=())


def test_only_a_customer_reference_can_be_signed_and_each_link_has_its_own_use_digest() -> None:
    with pytest.raises(ValidationError):
        sign_link(KEY, "not a ref", SOON)
    first, second = sign_link(KEY, "C1", SOON), sign_link(KEY, "C1", SOON + 1)

    assert len(first.use_digest) == 32
    assert first.use_digest != second.use_digest
    assert first.signature.encode() not in first.use_digest
