"""Customer sign-in: the password form (``/portal/sign-in``), the host platform's signed link
(``/portal/link``) and signing out (``/portal/sign-out``).

Both ways in end in the same customer session cookie as the console's (``api.sessions``,
kind ``customer``). The password form is throttled like staff sign-in (per account and
per client address) and protected against login CSRF: its page sets a random token in a
SameSite=Strict cookie and in a hidden field, and a post without both equal is refused,
so another site cannot sign a visitor in to an account of its choosing (and have their
voucher redeemed into it).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from vouchers.domain.access import Principal
from vouchers.entrypoints.api.problems import status_of
from vouchers.entrypoints.api.redemptions import client_address
from vouchers.entrypoints.api.sessions import SignedSessions
from vouchers.entrypoints.web.auth import FormPrincipal
from vouchers.entrypoints.web.portal.pages import (
    HOME,
    SIGN_IN,
    app_of,
    drop_code,
    message_for,
    portal_router,
    render,
    safe_next,
    session_customer,
)
from vouchers.errors import AuthenticationError, TooManyAttemptsError
from vouchers.services import portal

router = portal_router()

SIGN_IN_COOKIE = "vouchers_signin"
SIGN_IN_FIELD = "signin_token"
STALE_FORM = "This sign-in form has expired. Please sign in again."
MAX_FIELD = 1024


def sign_in_page(
    request: Request,
    *,
    next_path: str,
    template: str = "sign_in.html",
    context: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """A page with the sign-in form, and the fresh anti-CSRF token its post must echo."""
    token = secrets.token_urlsafe(24)
    values = {"next": next_path, SIGN_IN_FIELD: token, **(context or {})}
    response = render(request, template, values, status=status)
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        max_age=3600,
        path=SIGN_IN,
        secure=app_of(request).settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )
    return response


def _sessions(request: Request) -> SignedSessions:
    sessions: SignedSessions = request.app.state.sessions
    return sessions


def signed_in(request: Request, principal: Principal, next_path: str) -> Response:
    """A redirect to ``next_path`` that sets the customer's session cookies."""
    sessions = _sessions(request)
    token, payload = sessions.issue(principal)
    response = RedirectResponse(next_path, status_code=303)
    sessions.set_cookies(response, token, payload)
    request.state.principal = principal
    return response


@router.get("/portal/sign-in")
def sign_in_form(request: Request, next: str = HOME) -> Response:
    """The sign-in form: account number and password."""
    return sign_in_page(request, next_path=safe_next(next))


@router.post("/portal/sign-in")
async def sign_in(request: Request) -> Response:
    """Check the password of an account and sign its customer in (303 to ``next``)."""
    form = await request.form()
    ref = str(form.get("customer", ""))[:MAX_FIELD].strip()
    password = str(form.get("password", ""))[: MAX_FIELD + 1]
    next_path = safe_next(str(form.get("next", "")))
    sent = form.get(SIGN_IN_FIELD)
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not (isinstance(sent, str) and expected and hmac.compare_digest(sent, expected)):
        return sign_in_page(
            request, next_path=next_path, context={"error": STALE_FORM, "ref": ref}, status=403
        )
    # Argon2 and the database: in the thread pool, never on the event loop.
    return await run_in_threadpool(_sign_in, request, ref, password, next_path)


def _sign_in(request: Request, ref: str, password: str, next_path: str) -> Response:
    app = app_of(request)
    throttle = _sessions(request).throttle
    subject, address = f"customer:{ref}", client_address(request) or "unknown"
    try:
        throttle.check(subject, address)
        try:
            principal = portal.sign_in_with_password(
                ref, password, uow=app.uow(), passwords=app.passwords, clock=app.clock
            )
        except AuthenticationError:
            throttle.failed(subject, address)
            raise
    except (AuthenticationError, TooManyAttemptsError) as exc:
        error = message_for(exc, app.clock(), too_many="failed sign-ins")
        return sign_in_page(
            request,
            next_path=next_path,
            context={"error": error, "ref": ref},
            status=status_of(exc),
        )
    response = signed_in(request, principal, next_path)
    response.delete_cookie(SIGN_IN_COOKIE, path=SIGN_IN)
    return response


@router.get("/portal/link")
def sign_in_with_link(
    request: Request, customer: str = "", expires: str = "", sig: str = ""
) -> Response:
    """Sign in with a link signed by the host platform (docs/portal.md), once."""
    app = app_of(request)
    try:
        principal = portal.sign_in_with_link(
            customer[:MAX_FIELD],
            expires[:MAX_FIELD],
            sig[:MAX_FIELD],
            keys=app.settings.portal_link_keys,
            uow=app.uow(),
            clock=app.clock,
        )
    except AuthenticationError as exc:
        current = session_customer(request)
        if current is not None and current.name == customer:
            return RedirectResponse(HOME, status_code=303)  # a reload or the back button
        return render(
            request, "link_refused.html", {"message": message_for(exc, app.clock())}, status=401
        )
    return signed_in(request, principal, HOME)


@router.post("/portal/sign-out")
def sign_out(request: Request, principal: FormPrincipal) -> Response:
    """End the session in this browser and forget any held code."""
    response = RedirectResponse(SIGN_IN, status_code=303)
    _sessions(request).sign_out(request, response)
    drop_code(response, secure=app_of(request).settings.secure_cookies)
    return response
