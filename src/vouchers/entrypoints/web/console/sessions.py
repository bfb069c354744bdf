"""Signing in to the console and out again.

The sign-in form does what ``POST /api/v1/sessions`` does — the same throttle, the same
password check, the same signed session and CSRF cookies — and then sends the browser to
``next`` (a path of this site only: an absolute or scheme-relative URL falls back to the
dashboard, so the parameter cannot redirect anyone elsewhere). Before anyone is signed in
there is no session to hold a CSRF token, so the form carries a token of its own, also
set as a short-lived cookie, and the two must match (login CSRF: a forged form cannot sign
a victim in to the attacker's account). Signing out is a POST with the session's token.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vouchers.entrypoints.api.sessions import SignedSessions
from vouchers.entrypoints.web.auth import FormPrincipal
from vouchers.entrypoints.web.console.forms import text
from vouchers.entrypoints.web.console.pages import (
    PREFIX,
    AppDep,
    ConsoleRoute,
    FormDep,
    current_principal,
    local_path,
    render,
    see_other,
)
from vouchers.errors import AuthenticationError, TooManyAttemptsError
from vouchers.services import access

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute)

SIGN_IN_COOKIE = "vouchers_sign_in"
SIGN_IN_PATH = f"{PREFIX}/sign-in"


def _form(request: Request, next_: str, *, error: str | None = None, username: str = "",
          status: int = 200) -> HTMLResponse:  # fmt: skip
    token = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "sign_in.html",
        {"next": next_, "sign_in_token": token, "error": error, "username": username},
        status=status,
    )
    response.set_cookie(
        SIGN_IN_COOKIE, token, max_age=3600, path=SIGN_IN_PATH, httponly=True, samesite="strict"
    )
    return response


@router.get("/sign-in", name="console_sign_in")
def sign_in_page(request: Request, next: str = "") -> Response:
    """The sign-in form (straight to ``next`` for someone already signed in)."""
    target = local_path(next)
    if current_principal(request) is not None:
        return RedirectResponse(target, status_code=303)
    return _form(request, target)


@router.post("/sign-in")
def sign_in(request: Request, app: AppDep, form: FormDep) -> Response:
    """Check the password; on success set the session cookies and go to ``next``."""
    store: SignedSessions = request.app.state.sessions
    sent_next = form.get("next")
    target = local_path(sent_next if isinstance(sent_next, str) else None)
    username = text(form, "username", max_length=64).lower()
    raw_password = form.get("password")
    password = raw_password if isinstance(raw_password, str) else ""
    sent, expected = form.get("sign_in_token"), request.cookies.get(SIGN_IN_COOKIE)
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        return _form(request, target, error="the form expired; sign in again", status=403)
    if not username or not password:
        return _form(
            request, target, error="give your username and password", username=username,
            status=422,
        )  # fmt: skip
    address = request.client.host if request.client else "unknown"
    try:
        store.throttle.check(username, address)
        principal = access.verify_password(
            username, password, uow=app.uow(), passwords=app.passwords
        )
    except TooManyAttemptsError as exc:
        return _form(request, target, error=exc.message, username=username, status=429)
    except AuthenticationError as exc:
        store.throttle.failed(username, address)
        return _form(request, target, error=exc.message, username=username, status=401)
    token, payload = store.issue(principal)
    request.state.principal = principal
    response = see_other(target)
    store.set_cookies(response, token, payload)
    response.delete_cookie(SIGN_IN_COOKIE, path=SIGN_IN_PATH)
    return response


@router.post("/sign-out")
def sign_out(request: Request, _: FormPrincipal) -> Response:
    """Clear the session cookies and show the sign-in form."""
    response = see_other(SIGN_IN_PATH, "signed out")
    store: SignedSessions = request.app.state.sessions
    store.sign_out(request, response)
    return response
