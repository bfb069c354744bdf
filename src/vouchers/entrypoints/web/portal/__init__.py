"""The customer portal (``/portal``) and the redemption page a card's QR code opens
(``/redeem``): sign-in with a password or a signed link, balances, "Use voucher", what a
redemption credited, and the history of redemptions (docs/portal.md).

``router`` holds every portal page; ``create_app`` includes it.
"""

from __future__ import annotations

from fastapi import APIRouter

from vouchers.entrypoints.web.portal import account, redeem, sign_in

router = APIRouter(include_in_schema=False)
for _module in (sign_in, account, redeem):
    router.include_router(_module.router)

__all__ = ["router"]
