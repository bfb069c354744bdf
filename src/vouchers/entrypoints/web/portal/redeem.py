"""The redemption page a printed card's QR code opens: ``/redeem?code=<code>``
(``vouchers.services.qr_codes.redemption_url``).

The code leaves the address at once: ``GET /redeem?code=…`` keeps it in a short-lived
HttpOnly cookie that only ``/redeem`` sees and answers 303 to a bare ``/redeem``, so it
stays out of the browser's address bar and history, out of every later request line and
log, and out of the ``next`` of a sign-in (the access log masks ``code`` anyway, and every
portal answer sends ``Referrer-Policy: no-referrer``). ``/redeem`` then asks a visitor who
is not signed in as a customer to sign in, and a customer to confirm; ``POST /redeem``
redeems the held code into the signed-in customer's account and forgets it once it cannot
be used again.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from vouchers import errors
from vouchers.domain.access import Principal
from vouchers.entrypoints.api.problems import status_of
from vouchers.entrypoints.web.portal.account import MAX_AMOUNT, redeem_for, redeemed
from vouchers.entrypoints.web.portal.pages import (
    HOME,
    MAX_CODE,
    REDEEM_PATH,
    CustomerForm,
    app_of,
    code_tail,
    drop_code,
    hold_code,
    message_for,
    pending_code,
    portal_router,
    render,
    session_customer,
)
from vouchers.entrypoints.web.portal.sign_in import sign_in_page
from vouchers.services import portal

router = portal_router()

# Refusals after which the held code is worth nothing: forget it.
FINAL = (errors.VoucherUnavailableError, errors.MalformedCodeError)


def confirm_context(request: Request, held: str | None) -> dict[str, Any]:
    """What the confirmation shows: the held code's tail, and whether a top-up is asked."""
    return {
        "code_tail": code_tail(held),
        "topups": portal.customers_may_top_up(uow=app_of(request).uow()),
    }


@router.get(REDEEM_PATH)
def redemption_page(request: Request, code: str | None = None) -> Response:
    """With ``code``: hold it and come back without it. Without: sign in, or confirm."""
    secure = app_of(request).settings.secure_cookies
    if code is not None:
        response = RedirectResponse(REDEEM_PATH, status_code=303)
        code = code.strip()
        if 0 < len(code) <= MAX_CODE and code.isprintable():
            hold_code(response, code, secure=secure)
        return response
    held = pending_code(request)
    customer = session_customer(request)
    if customer is None:
        return sign_in_page(
            request,
            next_path=REDEEM_PATH,
            template="redeem_sign_in.html",
            context={"code_tail": code_tail(held)},
        )
    if held is None:
        return RedirectResponse(HOME, status_code=303)  # nothing held: type it in the portal
    return render(request, "redeem.html", confirm_context(request, held))


@router.post(REDEEM_PATH)
async def redeem(request: Request, principal: CustomerForm) -> Response:
    """Redeem the held code (with a top-up amount, if given) for the signed-in customer."""
    form = await request.form()
    amount = str(form.get("amount", ""))[:MAX_AMOUNT].strip()
    return await run_in_threadpool(_redeem, request, principal, amount)


def _redeem(request: Request, principal: Principal, amount: str) -> Response:
    secure = app_of(request).settings.secure_cookies
    held = pending_code(request)
    if held is None:
        return RedirectResponse(HOME, status_code=303)
    try:
        result = redeem_for(request, principal, held, amount)
    except errors.VouchersError as exc:
        final = isinstance(exc, FINAL)
        context = confirm_context(request, None if final else held)
        context |= {"error": message_for(exc, app_of(request).clock()), "amount": amount}
        response = render(request, "redeem.html", context, status=status_of(exc))
        if final:
            drop_code(response, secure=secure)
        return response
    response = redeemed(result)
    drop_code(response, secure=secure)
    return response
