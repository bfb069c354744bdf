"""What every console page shares: the route class that turns errors into pages and adds
the security headers, rendering with the role-aware menu, redirects with a one-time
notice, and the typed dependencies routes declare.

Errors are translated here and nowhere else in the console: a ``NotFoundError`` is the 404
page, a ``PermissionDeniedError`` (a missing permission, a stale CSRF token, four eyes) the
403 page, any other error raised on purpose a page with its message and the status the API
would give it. Forms catch the errors they expect themselves and re-render with the message
next to the field (see ``forms``); what they do not expect still ends as a page, never as a
500 with a stack trace. Every answer of the console is ``Cache-Control: no-store`` (pages
show customers, balances and, after a reveal, codes) and carries a strict content
security policy: scripts and styles only from ``/static``, no frames.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.datastructures import FormData

from vouchers.bootstrap import App
from vouchers.domain.access import Permission, Principal, PrincipalKind
from vouchers.domain.money import format_minor
from vouchers.entrypoints.api.deps import actor_name, get_app
from vouchers.entrypoints.api.problems import status_of
from vouchers.entrypoints.api.sessions import SignedSessions
from vouchers.entrypoints.web.auth import SignInRequired, csrf_token
from vouchers.entrypoints.web.templating import templates
from vouchers.errors import NotFoundError, VouchersError

log = logging.getLogger("vouchers.console")

PREFIX = "/console"
FLASH_COOKIE = "vouchers_flash"

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    # htmx inserts one <style> for its request indicators, hence 'unsafe-inline' for styles
    # only; scripts come from /static and nowhere else.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
}

P = Permission
MENU: tuple[tuple[str, str, Permission | None], ...] = (
    ("Dashboard", PREFIX, None),
    ("Vouchers", f"{PREFIX}/vouchers", P.VOUCHERS_READ),
    ("Lots", f"{PREFIX}/lots", P.LOTS_READ),
    ("Voucher types", f"{PREFIX}/types", P.TYPES_READ),
    ("Definitions", f"{PREFIX}/definitions", P.DEFINITIONS_READ),
    ("Runs", f"{PREFIX}/runs", P.RUNS_READ),
    ("Customers", f"{PREFIX}/customers", P.CUSTOMERS_READ),
    ("Settings", f"{PREFIX}/settings", P.SETTINGS_READ),
    ("Users", f"{PREFIX}/users", P.USERS_MANAGE),
    ("API keys", f"{PREFIX}/api-keys", P.APIKEYS_MANAGE),
)

TITLES = {
    400: "Bad request",
    401: "Sign in again",
    403: "Not allowed",
    404: "Not found",
    409: "Cannot do that now",
    422: "Cannot do that",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Unavailable",
}


class ConsoleRoute(APIRoute):
    """A console route: errors become pages, every answer gets ``SECURITY_HEADERS``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def console_handler(request: Request) -> Response:
            try:
                response = await handle(request)
            except SignInRequired:
                raise  # the app's handler redirects to the sign-in page
            except VouchersError as exc:
                response = error_page(request, exc.message, status_of(exc))
            except RequestValidationError:
                response = error_page(request, "the address or form is not valid", 400)
            except Exception:  # a bug: logged for the operator, a plain page for the user
                log.exception("console page %s %s failed", request.method, request.url.path)
                response = error_page(request, "an unexpected error occurred", 500)
            secure(response)
            return response

        return console_handler


def secure(response: Response) -> Response:
    """Add the console's security headers (kept where a route set its own)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


# -- who is looking ------------------------------------------------------------------------


def current_principal(request: Request) -> Principal | None:
    """The signed-in staff user if a page dependency found one, else from the cookie; None
    for a customer's portal session, which is nobody in the console (no menu, and the
    sign-in page shows its form instead of sending the customer round in circles)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        sessions: SignedSessions = request.app.state.sessions
        payload = sessions.payload(request)
        principal = None if payload is None else sessions.principal_of(payload)
    if principal is not None and principal.kind is PrincipalKind.CUSTOMER:
        return None
    return principal


def allowed(principal: Principal | None, permission: Permission | str | None) -> bool:
    """Whether ``principal`` holds ``permission`` (None: any signed-in principal)."""
    if principal is None:
        return False
    return permission is None or Permission(permission) in principal.permissions


def actor(principal: Principal) -> str:
    """How the principal appears in history: the username for staff."""
    return actor_name(principal)


AppDep = Annotated[App, Depends(get_app)]


async def read_form(request: Request) -> FormData:
    """The posted form (Starlette caches it: the CSRF check reads the same one)."""
    return await request.form()


FormDep = Annotated[FormData, Depends(read_form)]


# -- rendering -----------------------------------------------------------------------------


def money(minor: int | None, code: str | None) -> str:
    """``12.50 EUR``; an empty string for no amount."""
    if minor is None or not code:
        return ""
    return format_minor(minor, code)


def when(moment: datetime | str | None, *, date_only: bool = False) -> str:
    """A moment as UTC text: ``2026-11-27 12:00`` (or the date alone)."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M UTC")


def menu(principal: Principal | None, path: str) -> list[dict[str, Any]]:
    """The menu entries ``principal`` may open; the one for ``path`` is current."""
    entries: list[dict[str, Any]] = [
        {"label": label, "href": href}
        for label, href, permission in MENU
        if principal is not None and allowed(principal, permission)
    ]
    best = max(
        (e for e in entries if path == e["href"] or path.startswith(e["href"] + "/")),
        key=lambda e: len(e["href"]),
        default=None,
    )
    for entry in entries:
        entry["current"] = entry is best
    return entries


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """Render ``console/<template>`` with what every page needs: who is signed in, the
    menu, ``can(permission)``, the CSRF token, the pending notice and the formatters."""
    principal = current_principal(request)
    notice = _read_flash(request)
    full: dict[str, Any] = {
        "me": principal,
        "can": lambda permission: allowed(principal, permission),
        "menu": menu(principal, request.url.path),
        "csrf": csrf_token(request) if principal is not None else "",
        "notice": notice,
        "money": money,
        "when": when,
        "errors": {},
        "values": {},
    }
    full.update(context or {})
    response = templates.TemplateResponse(request, f"console/{template}", full, status_code=status)
    if notice is not None:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    return response


def error_page(request: Request, message: str, status: int) -> HTMLResponse:
    """The page for an error: its title by status and the message."""
    if status == 401:
        message = "your session has ended; sign in again"
    return render(
        request,
        "error.html",
        {"title": TITLES.get(status, "Error"), "message": message, "status": status},
        status=status,
    )


def not_found(what: str) -> NotFoundError:
    """The error for an address that names nothing (raise it)."""
    return NotFoundError(f"there is no {what}")


# -- redirects with a notice ---------------------------------------------------------------


def see_other(url: str, notice: str | None = None, *, kind: str = "ok") -> RedirectResponse:
    """303 to ``url`` (post/redirect/get), with a one-time notice shown by the next page."""
    response = RedirectResponse(url, status_code=303)
    if notice is not None:
        response.set_cookie(
            FLASH_COOKIE,
            quote(f"{kind}:{notice}"[:500]),
            max_age=60,
            path=PREFIX,
            httponly=True,
            samesite="lax",
        )
    return response


def _read_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    kind, _, text = unquote(raw).partition(":")
    return {"kind": "error" if kind == "error" else "ok", "text": text}


def local_path(target: str | None, default: str = PREFIX) -> str:
    """``target`` if it is a path of this site (``/console/...``), else ``default``.

    Refuses absolute and scheme-relative URLs (``//evil``, ``/\\evil``) and anything with a
    scheme or control characters, so a ``next`` parameter cannot send anyone elsewhere.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(ch) < 0x20 or ch in "\\" for ch in target) or ":" in target.split("?")[0]:
        return default
    return target
