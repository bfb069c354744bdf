"""Builders for customer portal tests: refill coupons (the seed's story), customers with a
portal password, signed links, the URL a card's QR code encodes, and the sign-in form."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from typing import Any

from support.factories import clear_codes
from support.redeeming import issue
from vouchers.bootstrap import App
from vouchers.domain.codes import DIGITS, CodeFormat
from vouchers.domain.portal import SignedLink, sign_link
from vouchers.domain.voucher_types import BonusRule, VoucherKind
from vouchers.services import customers
from vouchers.services.qr_codes import QrFormat, voucher_qr

LINK_KEY = "portal-link-secret-for-tests-0123456789abcdef"
PASSWORD = "a long enough password"
# The seed's refill coupons: numbers starting with 12, worth 10 each (digits: keypads).
REFILL = {
    "name": "Refill coupon",
    "value_minor": 1000,
    "code_format": CodeFormat(alphabet=DIGITS, length=20, prefix="12"),
}


def enable_links(app: App) -> None:
    """Let the app accept links signed with ``LINK_KEY``."""
    app.settings = dataclasses.replace(app.settings, portal_link_keys=(LINK_KEY,))


def refill_coupons(app: App, count: int) -> list[str]:
    """``count`` activated refill coupons of 10.00 EUR (generated, accepted, activated)."""
    return issue(app, "REFILL", count, **REFILL)


def portal_customer(
    app: App, ref: str = "C1", *, password: str | None = PASSWORD, **fields: Any
) -> int:
    """A customer (with a portal password set by staff, unless None); its id."""
    created = customers.create_customer(
        ref, uow=app.uow(), clock=app.clock, actor="setup", **fields
    )
    if password is not None:
        customers.set_customer_password(
            ref, password, uow=app.uow(), passwords=app.passwords, clock=app.clock, actor="setup"
        )
    return created.require_id()


def signed_link(app: App, ref: str, *, seconds: int = 300, key: str = LINK_KEY) -> SignedLink:
    """A link for ``ref`` expiring ``seconds`` after the app's now (negative: expired)."""
    return sign_link(key, ref, int(app.clock().timestamp()) + seconds)


def qr_url(app: App, code: str, redeem_url: str) -> str:
    """What the QR code of the voucher with ``code`` encodes, drawn by the real service
    (the "image" here is the encoded text itself)."""
    number = next(n for n, c in clear_codes(app).items() if c == code)
    drawn = voucher_qr(
        number,
        fmt=QrFormat.SVG,
        reason="test",
        uow=app.uow(),
        vault=app.vault,
        clock=app.clock,
        actor="setup",
        render=lambda content, fmt: content.encode(),
        redeem_url=redeem_url,
    )
    return drawn.image.decode()


def hidden(html: str, name: str) -> str:
    """The value of the hidden field ``name`` in a page."""
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no field {name}"
    return found.group(1)


def alerts(html: str) -> list[str]:
    """The texts of a page's alert paragraphs (errors)."""
    return [" ".join(text.split()) for text in re.findall(r'role="alert">([^<]*)<', html)]


def double_topup(app: App, count: int = 1) -> list[str]:
    """``count`` multiplier vouchers: ×2 on a top-up of at least 50.00 EUR."""
    return issue(
        app,
        "X2",
        count,
        name="Double top-up",
        kind=VoucherKind.TOPUP_BONUS,
        value_minor=None,
        bonus=BonusRule(minimum_activation_minor=5000, multiplier=Decimal(2)),
    )
