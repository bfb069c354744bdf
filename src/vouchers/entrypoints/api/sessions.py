"""Console sign-in: ``POST /api/v1/sessions`` (username and password), ``GET
/api/v1/sessions/current``, ``DELETE /api/v1/sessions``; and the session store that turns a
session cookie back into a principal (a staff user, or a customer signed in to the portal
by ``vouchers.entrypoints.web.portal``).

A session is a row (``services.access.open_session``) and a signed cookie: the cookie
carries the session's random id, the name, an expiry and a CSRF token, signed with
HMAC-SHA-256 under a key derived from the key file's lookup keys (``HMAC(lookup key,
"vouchers console sessions v1")``); the row, found by the id's SHA-256, says whether the
session still lives. Every request with the cookie reads it (once: the answer is kept on
the request), so signing out, a new password, a deactivated user or a blocked customer end
a session at once in every server process, and a staff user acts with the roles they hold
now. Rotating the keys keeps sessions valid until ``keys finish-rotation`` drops the old
lookup key. The cookie's lifetime is ``VOUCHERS_SESSION_HOURS`` (default 8).

CSRF: signed double submit. Sign-in also sets a readable ``vouchers_csrf`` cookie (and
returns the token); every unsafe request authenticated by the session cookie must echo it
in ``X-CSRF-Token``, and it must equal the token inside the signed session, so a forged
cookie cannot pass. Requests with ``Authorization: Bearer`` never use cookies and need no
token. Failed sign-ins are throttled per username and per client address in this process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field

from vouchers.bootstrap import App
from vouchers.domain.access import Principal
from vouchers.entrypoints.api.deps import AppDep, CurrentPrincipal
from vouchers.errors import (
    AuthenticationError,
    PermissionDeniedError,
    TooManyAttemptsError,
)
from vouchers.services import access

SESSION_COOKIE = "vouchers_session"
CSRF_COOKIE = "vouchers_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CONTEXT = b"vouchers console sessions v1"
_PRINCIPAL = "principal"  # the payload's live principal, set by ``read``; never in a cookie

router = APIRouter(prefix="/sessions", tags=["sessions"])


class SessionCreate(BaseModel):
    """A staff user's credentials."""

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class SessionPublic(BaseModel):
    """Who is signed in, until when, and the token unsafe requests must echo."""

    username: str
    kind: str
    roles: list[str]
    expires_at: datetime | None = None
    csrf_token: str | None = None


class SignInThrottle:
    """At most ``per_user`` failed sign-ins per username and ``per_address`` per client
    address in ``window`` seconds (this process); then TooManyAttemptsError until the
    oldest failure leaves the window."""

    def __init__(self, *, per_user: int = 10, per_address: int = 50, window: float = 900) -> None:
        self.limits = {"user": per_user, "address": per_address}
        self.window = window
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, username: str, address: str) -> None:
        """Raise TooManyAttemptsError if either subject used up its failures."""
        now = time.monotonic()
        with self._lock:
            for scope, name in (("user", username), ("address", address)):
                failures = self._recent((scope, name), now)
                if len(failures) >= self.limits[scope]:
                    wait = int(failures[0] + self.window - now) + 1
                    raise TooManyAttemptsError(
                        "too many failed sign-ins; try again later", retry_after=wait
                    )

    def failed(self, username: str, address: str) -> None:
        """Count one failed sign-in against both subjects."""
        now = time.monotonic()
        with self._lock:
            for subject in (("user", username), ("address", address)):
                self._recent(subject, now).append(now)

    def _recent(self, subject: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures.setdefault(subject, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures


class SignedSessions:
    """The session store (``deps.SessionStore``) over signed, expiring cookies."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.lifetime = timedelta(hours=app.settings.session_hours)
        self.secure = app.settings.secure_cookies
        self.throttle = SignInThrottle()

    # -- tokens --------------------------------------------------------------------------

    def _keys(self) -> list[bytes]:
        """Signing keys, the current one first (old ones verify until rotation finishes)."""
        ring = self.app.keyring
        ids = [
            ring.current_lookup_id,
            *(i for i in ring.lookup_keys if i != ring.current_lookup_id),
        ]
        return [hmac.new(ring.lookup_keys[i], _CONTEXT, hashlib.sha256).digest() for i in ids]

    def issue(self, principal: Principal) -> tuple[str, dict[str, Any]]:
        """A new session for ``principal`` (staff, or a portal customer): its signed token
        and the token's payload."""
        session_id, session = access.open_session(
            principal, uow=self.app.uow(), clock=self.app.clock, lifetime=self.lifetime
        )
        payload: dict[str, Any] = {
            "v": 2,
            "sid": session_id,
            "u": principal.name,
            "exp": int(session.expires_at.timestamp()),
            "csrf": secrets.token_urlsafe(24),
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        signature = _b64(hmac.new(self._keys()[0], body.encode(), hashlib.sha256).digest())
        return f"{body}.{signature}", payload | {_PRINCIPAL: principal}

    def read(self, token: str) -> dict[str, Any] | None:
        """The payload of a well-signed, unexpired token of a live session, with the
        session's principal as it is now (``principal_of``); None otherwise."""
        body, _, signature = token.partition(".")
        if not body or not signature or len(token) > 4096:
            return None
        good = any(
            hmac.compare_digest(
                _b64(hmac.new(key, body.encode(), hashlib.sha256).digest()), signature
            )
            for key in self._keys()
        )
        if not good:
            return None
        try:
            payload: dict[str, Any] = json.loads(_unb64(body))
        except ValueError:
            return None
        if payload.get("v") != 2 or payload.get("exp", 0) <= self.app.clock().timestamp():
            return None
        session_id = payload.get("sid")
        if not isinstance(session_id, str):
            return None
        principal = access.session_principal(session_id, uow=self.app.uow(), clock=self.app.clock)
        return None if principal is None else payload | {_PRINCIPAL: principal}

    # -- SessionStore ----------------------------------------------------------------------

    def payload(self, request: Request) -> dict[str, Any] | None:
        """The payload of the request's valid session cookie, None without one (no CSRF
        check: pages check the token of their forms with ``csrf_matches``)."""
        token = request.cookies.get(SESSION_COOKIE)
        if token is None:
            return None
        known: dict[str, dict[str, Any] | None] = request.state.__dict__.setdefault(
            "_vouchers_sessions", {}
        )
        if token not in known:  # one database read a request, however many ask
            known[token] = self.read(token)
        return known[token]

    @staticmethod
    def csrf_matches(payload: dict[str, Any], sent: str) -> bool:
        """Whether ``sent`` is the session's CSRF token (constant time)."""
        return hmac.compare_digest(sent.encode(), str(payload["csrf"]).encode())

    def principal(self, request: Request) -> Principal | None:
        """The staff principal of the session cookie; for unsafe methods only with the
        session's CSRF token in ``X-CSRF-Token`` (PermissionDeniedError, 403, otherwise)."""
        payload = self.payload(request)
        if payload is None:
            return None
        if request.method not in SAFE_METHODS and not self.csrf_matches(
            payload, request.headers.get(CSRF_HEADER, "")
        ):
            raise PermissionDeniedError(
                f"a signed-in request that changes something needs the {CSRF_HEADER} header"
            )
        return self.principal_of(payload)

    @staticmethod
    def principal_of(payload: dict[str, Any]) -> Principal | None:
        """The principal of a payload ``read`` returned: a staff user with their roles of
        now, or a portal customer (role ``customer``, confined to its customer id)."""
        principal = payload.get(_PRINCIPAL)
        return principal if isinstance(principal, Principal) else None

    def set_cookies(self, response: Response, token: str, payload: dict[str, Any]) -> None:
        """The session cookie (HttpOnly) and the CSRF cookie (readable by the console)."""
        max_age = int(self.lifetime.total_seconds())
        for name, value, http_only in (
            (SESSION_COOKIE, token, True),
            (CSRF_COOKIE, str(payload["csrf"]), False),
        ):
            response.set_cookie(
                name,
                value,
                max_age=max_age,
                path="/",
                secure=self.secure,
                httponly=http_only,
                samesite="lax",
            )

    def sign_out(self, request: Request, response: Response) -> None:
        """End the request's session, if any, and expire its cookies in the browser."""
        payload = self.payload(request)
        if payload is not None:
            access.close_session(str(payload["sid"]), uow=self.app.uow(), clock=self.app.clock)
        self.clear_cookies(response)

    def clear_cookies(self, response: Response) -> None:
        """Expire both cookies in the browser."""
        for name in (SESSION_COOKIE, CSRF_COOKIE):
            response.delete_cookie(name, path="/", secure=self.secure, samesite="lax")


def install(api: Any, app: App) -> SignedSessions:
    """Put the session store on ``api.state.sessions``."""
    store = SignedSessions(app)
    api.state.sessions = store
    return store


def _store(request: Request) -> SignedSessions:
    store: SignedSessions = request.app.state.sessions
    return store


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Sign in",
    responses={401: {"description": "Wrong credentials"}, 429: {"description": "Throttled"}},
)
def create_session(
    body: SessionCreate, request: Request, response: Response, app: AppDep
) -> SessionPublic:
    """Check a staff user's password and set the session and CSRF cookies."""
    store = _store(request)
    username = body.username.strip().lower()
    address = request.client.host if request.client else "unknown"
    store.throttle.check(username, address)
    try:
        principal = access.verify_password(
            username, body.password, uow=app.uow(), passwords=app.passwords
        )
    except AuthenticationError:
        store.throttle.failed(username, address)
        raise
    token, payload = store.issue(principal)
    store.set_cookies(response, token, payload)
    request.state.principal = principal
    return SessionPublic(
        username=principal.name,
        kind=str(principal.kind),
        roles=sorted(str(role) for role in principal.roles),
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        csrf_token=str(payload["csrf"]),
    )


@router.get("/current", summary="Who is calling")
def current_session(principal: CurrentPrincipal) -> SessionPublic:
    """The principal of the session cookie or API key."""
    return SessionPublic(
        username=principal.name,
        kind=str(principal.kind),
        roles=sorted(str(role) for role in principal.roles),
    )


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out")
def delete_session(request: Request, response: Response) -> None:
    """End the session and clear its cookies (signing out twice is harmless)."""
    _store(request).sign_out(request, response)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
