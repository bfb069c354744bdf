"""Signed sign-in links to the customer portal: how a host platform (a VoIP customer portal,
a web phone, a broker's dashboard) lets its own signed-in customer into the portal without
a second login.

A link names the customer's external reference and an expiry in Unix seconds, and carries
``sig``, the lower-case hex HMAC-SHA-256 of the message ``"<ref>\\n<expires>"`` under a
secret the host platform shares with this installation::

    /portal/link?customer=C1&expires=1764244800&sig=5f0c…

The newline cannot occur in a reference and the expiry is digits only, so no two
(reference, expiry) pairs sign the same message. A link is refused when its signature
matches none of the secrets, when it has expired, and when it claims to live longer than
``MAX_LINK_SECONDS`` from now (a host must not mint long-lived credentials). Each link
signs in once: ``SignedLink.use_digest`` is what storage remembers until the link expires,
so a replayed link is refused too (docs/portal.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from vouchers.domain.customers import EXTERNAL_REF
from vouchers.errors import AuthenticationError, ValidationError

LINK_PATH = "/portal/link"
MAX_LINK_SECONDS = 3600
DEFAULT_LINK_MINUTES = 5
SIGNATURE = re.compile(r"^[0-9a-fA-F]{64}$")
EXPIRES = re.compile(r"^[0-9]{1,12}$")
BAD_LINK = "this sign-in link is not valid"
EXPIRED_LINK = "this sign-in link has expired"


@dataclass(frozen=True)
class SignedLink:
    """A portal sign-in link's three parameters."""

    customer_ref: str
    expires: int
    signature: str

    def query(self) -> str:
        """The link's query string: ``customer=…&expires=…&sig=…``."""
        return urlencode(
            {"customer": self.customer_ref, "expires": str(self.expires), "sig": self.signature}
        )

    def url(self, base_url: str) -> str:
        """The whole link on the server at ``base_url`` (``https://vouchers.example.com``)."""
        return f"{base_url.rstrip('/')}{LINK_PATH}?{self.query()}"

    @property
    def use_digest(self) -> bytes:
        """What is stored to refuse the link a second time (never the signature itself)."""
        return hashlib.sha256(bytes.fromhex(self.signature)).digest()


def link_message(customer_ref: str, expires: int) -> bytes:
    """The bytes a link's signature covers: ``"<ref>\\n<expires>"`` in UTF-8."""
    return f"{customer_ref}\n{expires}".encode()


def _signature(key: str, customer_ref: str, expires: int) -> str:
    return hmac.new(key.encode(), link_message(customer_ref, expires), hashlib.sha256).hexdigest()


def sign_link(key: str, customer_ref: str, expires: int) -> SignedLink:
    """A link for ``customer_ref`` valid until ``expires`` (Unix seconds), signed with ``key``.

    Raises ValidationError for a reference that cannot be a customer's.
    """
    if not EXTERNAL_REF.match(customer_ref):
        raise ValidationError(f"{customer_ref[:70]!r} is not a customer reference")
    return SignedLink(customer_ref, expires, _signature(key, customer_ref, expires))


def check_link(
    keys: Sequence[str], customer_ref: str, expires: str, signature: str, *, now: datetime
) -> SignedLink:
    """The link, if one of ``keys`` signed it and it is valid at ``now``.

    Raises AuthenticationError: ``BAD_LINK`` for a malformed or tampered link (or when no
    key is configured), ``EXPIRED_LINK`` once it expired; a link whose expiry lies more
    than ``MAX_LINK_SECONDS`` ahead is refused too. The signature is checked before the
    expiry, so only the holder of a real link learns that it expired.
    """
    if not (
        keys
        and EXTERNAL_REF.match(customer_ref)
        and EXPIRES.match(expires)
        and SIGNATURE.match(signature)
    ):
        raise AuthenticationError(BAD_LINK)
    when = int(expires)
    sent = signature.lower()
    if not any(hmac.compare_digest(_signature(key, customer_ref, when), sent) for key in keys):
        raise AuthenticationError(BAD_LINK)
    moment = int(now.timestamp())
    if when <= moment:
        raise AuthenticationError(EXPIRED_LINK)
    if when - moment > MAX_LINK_SECONDS:
        raise AuthenticationError(
            f"{BAD_LINK}: it may expire at most {MAX_LINK_SECONDS // 60} minutes ahead"
        )
    return SignedLink(customer_ref, when, sent)
