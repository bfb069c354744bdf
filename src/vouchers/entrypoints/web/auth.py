"""Who is looking at a page, and the CSRF check of page forms.

Pages use the same signed session cookie as the API (``api.sessions``). A page that needs
someone signed in depends on ``PagePrincipal``: without a valid session the browser is sent
to the sign-in page of the page's area (``/console/sign-in`` or ``/portal/sign-in``) with
``next`` set, rather than getting a problem document; a customer's session counts as
nobody in the console. A form that changes something posts
the session's CSRF token in a hidden ``csrf_token`` field (``FormPrincipal`` checks it; the
API's ``X-CSRF-Token`` header is for scripts), so every main action works without
JavaScript. Templates get the token from ``csrf_token(request)``.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from vouchers.domain.access import Principal, PrincipalKind
from vouchers.entrypoints.api.sessions import SignedSessions
from vouchers.errors import PermissionDeniedError

CSRF_FIELD = "csrf_token"
SIGN_IN_PATHS = {"console": "/console/sign-in", "portal": "/portal/sign-in"}


class SignInRequired(Exception):
    """The page needs a signed-in visitor; the handler redirects to the area's sign-in."""

    def __init__(self, area: str, next_path: str) -> None:
        super().__init__(area)
        self.area = area
        self.next_path = next_path


def install(api: FastAPI) -> None:
    """Turn ``SignInRequired`` into a 303 redirect to the sign-in page."""

    async def redirect(request: Request, exc: Exception) -> RedirectResponse:
        assert isinstance(exc, SignInRequired)
        target = f"{SIGN_IN_PATHS[exc.area]}?next={quote(exc.next_path, safe='/')}"
        return RedirectResponse(target, status_code=303)

    api.add_exception_handler(SignInRequired, redirect)


def area_of(request: Request) -> str:
    """``portal`` for pages under /portal and /redeem, ``console`` otherwise."""
    path = request.url.path
    return "portal" if path.startswith(("/portal", "/redeem")) else "console"


def session_payload(request: Request) -> dict[str, Any] | None:
    """The valid session payload of the request, None without one."""
    sessions: SignedSessions = request.app.state.sessions
    return sessions.payload(request)


def csrf_token(request: Request) -> str:
    """The CSRF token forms of this session must post (empty without a session)."""
    payload = session_payload(request)
    return "" if payload is None else str(payload["csrf"])


def page_principal(request: Request) -> Principal:
    """The signed-in principal, or a redirect to the sign-in page."""
    sessions: SignedSessions = request.app.state.sessions
    payload = sessions.payload(request)
    principal = None if payload is None else sessions.principal_of(payload)
    area = area_of(request)
    if principal is not None and area == "console" and principal.kind is PrincipalKind.CUSTOMER:
        principal = None  # a customer's session never opens the staff console
    if principal is None:
        next_path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(area, next_path)
    request.state.principal = principal
    return principal


async def form_principal(request: Request) -> Principal:
    """The signed-in principal of a posted form whose ``csrf_token`` field matches the
    session's (PermissionDeniedError, 403, otherwise)."""
    principal = await run_in_threadpool(page_principal, request)  # reads the session row
    form = await request.form()  # Starlette caches it: the route reads the same form
    sent = form.get(CSRF_FIELD)
    sessions: SignedSessions = request.app.state.sessions
    payload = sessions.payload(request)
    if payload is None or not isinstance(sent, str) or not sessions.csrf_matches(payload, sent):
        raise PermissionDeniedError("the form is stale or forged: reload the page and try again")
    return principal


PagePrincipal = Annotated[Principal, Depends(page_principal)]
FormPrincipal = Annotated[Principal, Depends(form_principal)]
