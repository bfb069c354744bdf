"""Typed dependencies every route uses: the app, the acting principal, permissions.

Dependencies are ``async``: FastAPI runs a plain ``def`` dependency in the thread pool,
and a hop there and back costs each request more than these checks do.

Routes declare what they need with ``AppDep`` and ``Principal`` from ``require(...)``;
customer-scoped checks (a customer's key or portal session acting on its own account)
call ``authorize(principal, permission, customer_id=…)`` once the customer is known.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Protocol

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from vouchers.bootstrap import App
from vouchers.domain.access import Permission, Principal, authorize
from vouchers.errors import AuthenticationError
from vouchers.services import access

API_PREFIX = "/api/v1"


class SessionStore(Protocol):
    """Console and portal sign-ins (cookies); installed on ``app.state.sessions``."""

    def principal(self, request: Request) -> Principal | None:
        """The principal of the request's session cookie, None without a valid one."""
        ...


async def get_app(request: Request) -> App:
    """The composition root this API was built on (``create_app``)."""
    app: App = request.app.state.vouchers
    return app


AppDep = Annotated[App, Depends(get_app)]


async def current_principal(request: Request) -> Principal:
    """Who calls: an ``Authorization: Bearer`` API key, else a session cookie.

    Raises AuthenticationError (401) when neither proves anyone. Runs on the event loop (a
    thread hop costs more than the check); only a key whose row is not remembered is read
    from the database, in the thread pool.
    """
    header = request.headers.get("authorization")
    principal: Principal | None = None
    if header is not None:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise AuthenticationError("send an API key as 'Authorization: Bearer <key>'")
        keys: access.KeyAuthenticator = request.app.state.api_keys
        principal = keys.remembered(credentials.strip())
        if principal is None:
            principal = await run_in_threadpool(keys, credentials.strip())
    else:
        sessions: SessionStore | None = getattr(request.app.state, "sessions", None)
        if sessions is not None:  # a session cookie is checked against its stored row
            principal = await run_in_threadpool(sessions.principal, request)
    if principal is None:
        raise AuthenticationError("sign in, or send an API key as 'Authorization: Bearer <key>'")
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the current principal, refused (403) unless it holds ``permission``.

    Principals confined to a customer pass only with ``customer_id``; routes acting on one
    customer call ``authorize`` again with it.
    """

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.customer_id is None:
            authorize(principal, permission)
        elif permission not in principal.permissions:
            authorize(principal, permission)  # raises: not granted at all
        return principal

    dependency.__name__ = f"require_{permission.value.replace('.', '_')}"
    return dependency


def actor_name(principal: Principal) -> str:
    """How a principal appears in history and journal entries: ``alice``, ``key:shop``,
    ``customer:C1``."""
    prefix = {"staff": "", "api_key": "key:", "customer": "customer:"}[principal.kind.value]
    return f"{prefix}{principal.name}"
