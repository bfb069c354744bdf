"""What every portal page shares: the route class that adds the security headers and turns
errors into pages, the customer-only dependencies, rendering, and the wording customers
read (refusals, lock-outs, amounts).

Every portal response (pages, redirects, error pages) carries ``Referrer-Policy:
no-referrer`` (a page reached from ``/redeem?code=…`` must not hand its address to anyone),
``Cache-Control: no-store`` (balances and codes stay out of shared caches and the back-
forward cache), ``X-Content-Type-Options: nosniff`` and a refusal to be framed: the portal
opens top-level, never inside another site's frame (docs/portal.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from vouchers import errors
from vouchers.bootstrap import App
from vouchers.domain.access import Principal, PrincipalKind
from vouchers.entrypoints.api.problems import status_of
from vouchers.entrypoints.web.auth import (
    SIGN_IN_PATHS,
    SignInRequired,
    csrf_token,
    form_principal,
    page_principal,
)
from vouchers.entrypoints.web.templating import templates

log = logging.getLogger("vouchers.portal")

SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}
HOME = "/portal"
SIGN_IN = SIGN_IN_PATHS["portal"]
TYPO_MESSAGE = "This code looks mistyped. Check it against your card and try again."
BLOCKED_MESSAGE = "Your account is blocked. Please contact support."
UNEXPECTED = "Something went wrong on our side. Please try again later."


class PortalRoute(APIRoute):
    """A portal route: security headers on every answer; a refusal raised on purpose
    becomes an error page (not a problem document), a missing sign-in a redirect, and a
    bug a plain error page (logged), never a problem document without the headers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def portal_handler(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired as exc:
                target = f"{SIGN_IN}?next={quote(exc.next_path, safe='/')}"
                response = RedirectResponse(target, status_code=303)
            except errors.VouchersError as exc:
                response = error_page(request, exc)
            except RequestValidationError:  # only path parameters can fail: no such page
                response = error_page(request, errors.NotFoundError("there is no such page"))
            except Exception:  # a bug: logged for the operator, a plain page for the customer
                log.exception("portal page %s %s failed", request.method, request.url.path)
                response = render(request, "error.html", {"message": UNEXPECTED}, status=500)
            response.headers.update(SECURITY_HEADERS)
            return response

        return portal_handler


def portal_router() -> APIRouter:
    """A router of portal pages (kept out of the API's OpenAPI document)."""
    return APIRouter(route_class=PortalRoute, include_in_schema=False)


def app_of(request: Request) -> App:
    """The composition root the pages were built on."""
    app: App = request.app.state.vouchers
    return app


def _customer(principal: Principal, request: Request) -> Principal:
    if principal.kind is not PrincipalKind.CUSTOMER:  # a staff session: sign in as a customer
        raise SignInRequired("portal", request.url.path)
    return principal


def customer_page(request: Request) -> Principal:
    """The signed-in customer, or a redirect to the portal's sign-in."""
    return _customer(page_principal(request), request)


async def customer_form(request: Request) -> Principal:
    """The signed-in customer of a posted form with the session's CSRF token (403 else)."""
    return _customer(await form_principal(request), request)


CustomerPage = Annotated[Principal, Depends(customer_page)]
CustomerForm = Annotated[Principal, Depends(customer_form)]


def session_customer(request: Request) -> Principal | None:
    """The customer of the request's session, None without one (or for a staff session)."""
    sessions = request.app.state.sessions
    payload = sessions.payload(request)
    principal: Principal | None = None if payload is None else sessions.principal_of(payload)
    if principal is None or principal.kind is not PrincipalKind.CUSTOMER:
        return None
    request.state.principal = principal
    return principal


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> Response:
    """A portal template with the CSRF token and the signed-in customer at hand."""
    values = {"csrf_token": csrf_token(request), "customer": session_customer(request)}
    values.update(context or {})
    return templates.TemplateResponse(request, f"portal/{name}", values, status_code=status)


def error_page(request: Request, exc: errors.VouchersError) -> Response:
    """A refusal as a page with the customer's wording and the error's HTTP status."""
    return render(
        request,
        "error.html",
        {"message": message_for(exc, app_of(request).clock())},
        status=status_of(exc),
    )


def message_for(exc: errors.VouchersError, now: datetime, *, too_many: str = "wrong codes") -> str:
    """What a customer is told: one message for every unusable code, the time to try again
    after a lock-out (of ``too_many`` what), and a sentence for everything else."""
    if isinstance(exc, errors.VoucherUnavailableError):
        return exc.customer_message
    if isinstance(exc, errors.MalformedCodeError):
        return TYPO_MESSAGE
    if isinstance(exc, errors.CustomerBlockedError):
        return BLOCKED_MESSAGE
    if isinstance(exc, errors.TooManyAttemptsError):
        return f"Too many {too_many}. {try_again(exc.retry_after, now)}"
    return sentence(exc.message)


def sentence(text: str) -> str:
    """``text`` starting with a capital and ending with a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."


def try_again(seconds: int, now: datetime) -> str:
    """When to try again, in words and as a time: ``"You can try again in 15 minutes (at
    12:15 UTC)."``"""
    at = now + timedelta(seconds=seconds)
    if at.second or at.microsecond:  # never name a minute before the wait ends
        at = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    clock = at.strftime("%H:%M UTC") if seconds < 86_400 else at.strftime("%d %b %Y %H:%M UTC")
    return f"You can try again in {duration(seconds)} (at {clock})."


def duration(seconds: int) -> str:
    """A wait in words, rounded up: ``"45 seconds"``, ``"1 minute"``, ``"3 hours"``."""
    if seconds < 60:
        count, unit = seconds, "second"
    elif seconds < 2 * 3600:
        count, unit = -(-seconds // 60), "minute"
    else:
        count, unit = -(-seconds // 3600), "hour"
    return f"{count} {unit}{'' if count == 1 else 's'}"


def safe_next(text: str | None) -> str:
    """Where to go after signing in: a portal or redemption page of this site, else home.

    Never another site (no scheme, host or ``//``), and never a query on ``/redeem`` (the
    code stays out of addresses; the redemption page keeps it in a cookie).
    """
    if not text or "\\" in text or text.startswith("//"):
        return HOME
    parts = urlsplit(text)
    if parts.scheme or parts.netloc or not parts.path.startswith(("/portal", "/redeem")):
        return HOME
    if parts.path.startswith(("/portal/sign-in", "/portal/link", "/portal/sign-out")):
        return HOME
    if parts.path.startswith("/redeem"):
        return "/redeem"
    return parts.path + (f"?{parts.query}" if parts.query else "")


# -- the code a QR code brought, between the scan and the redemption ------------------------

REDEEM_COOKIE = "vouchers_redeem"
REDEEM_PATH = "/redeem"
REDEEM_SECONDS = 15 * 60
MAX_CODE = 200


def pending_code(request: Request) -> str | None:
    """The code the redemption page holds for this browser (a short-lived cookie)."""
    code = request.cookies.get(REDEEM_COOKIE, "").strip()
    return code if 0 < len(code) <= MAX_CODE and code.isprintable() else None


def hold_code(response: Response, code: str, *, secure: bool) -> None:
    """Keep ``code`` in an HttpOnly cookie seen only by ``/redeem``, for 15 minutes."""
    response.set_cookie(
        REDEEM_COOKIE,
        code,
        max_age=REDEEM_SECONDS,
        path=REDEEM_PATH,
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def drop_code(response: Response, *, secure: bool) -> None:
    """Forget the held code."""
    response.delete_cookie(
        REDEEM_COOKIE, path=REDEEM_PATH, secure=secure, httponly=True, samesite="lax"
    )


def code_tail(code: str | None) -> str | None:
    """The last four letters or digits of a code: all a page shows of it."""
    if code is None:
        return None
    return "".join(ch for ch in code if ch.isalnum())[-4:].upper() or None
