"""``create_app``: the FastAPI application over one bootstrapped ``App``.

Nothing is built at import time. Routes live in one module per feature (the same names as
the services), all under ``/api/v1``; health checks and metrics sit at the root. Every
request passes the ``RequestLog`` middleware (request id, JSON access line, metrics);
console sessions are installed on ``state.sessions``. ``background`` components (the
embedded run worker, see ``server``) are started and stopped with the app's lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import FastAPI

from vouchers.bootstrap import App
from vouchers.entrypoints.api import (
    customers,
    definitions,
    health,
    imports,
    ledger,
    lots,
    metrics,
    problems,
    redemptions,
    runs,
    sessions,
    settings,
    types,
    vouchers,
    wallets,
)
from vouchers.entrypoints.api.deps import API_PREFIX
from vouchers.entrypoints.api.logging import RequestLog
from vouchers.entrypoints.web import auth as web_auth
from vouchers.entrypoints.web import console, portal, templating
from vouchers.services import access


class Background(Protocol):
    """Something that runs beside the API while it serves."""

    def start(self, api: FastAPI) -> None:
        """Begin (at start-up)."""
        ...

    def stop(self) -> None:
        """End and wait (at shutdown)."""
        ...


def create_app(app: App, *, background: Sequence[Background] = ()) -> FastAPI:
    """The HTTP API on ``app`` (its database, keys and clock)."""

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        started: list[Background] = []
        try:
            for component in background:
                component.start(api)
                started.append(component)
            yield
        finally:
            for component in reversed(started):
                component.stop()

    api = FastAPI(
        title="Vouchers",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    api.state.vouchers = app
    api.state.api_keys = access.KeyAuthenticator(app.uow)
    problems.install(api)
    sessions.install(api, app)
    api.add_middleware(RequestLog, observer=metrics.install(api))
    api.include_router(health.router)
    api.include_router(metrics.router)
    # Each router is included at the top, most used first: FastAPI matches a request by
    # trying the routers in order, and every level of nesting costs each request more
    # (bench/api.py; the redemption routes come first).
    for module in (
        redemptions,
        wallets,
        customers,
        vouchers,
        sessions,
        types,
        definitions,
        lots,
        imports,
        runs,
        ledger,
        settings,
    ):
        api.include_router(module.router, prefix=API_PREFIX)
    api.include_router(portal.router)
    web_auth.install(api)
    console.install(api)  # the staff console at /console; / redirects there
    templating.mount_static(api)
    return api
