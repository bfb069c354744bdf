"""The customer portal (``/portal``) and the redemption page a card's QR code opens
(``/redeem``): sign-in with a password or a signed link, balances, "Use voucher", what a
redemption credited, and the history of redemptions (docs/portal.md).

``router`` holds every portal page; ``create_app`` includes it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from vouchers import errors
from vouchers.entrypoints.web.portal import account, redeem, sign_in
from vouchers.entrypoints.web.portal.pages import error_page, portal_router

_fallback = portal_router()


@_fallback.get("/portal/{rest:path}")
def unknown_page(request: Request, rest: str) -> Response:
    """Any other portal address: the portal's 404 page (not the API's problem document)."""
    return error_page(request, errors.NotFoundError("there is no such page"))


router = APIRouter(include_in_schema=False)
for _module in (sign_in, account, redeem):
    router.include_router(_module.router)
router.include_router(_fallback)  # last: every real page matches first

__all__ = ["router"]
