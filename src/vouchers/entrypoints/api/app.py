"""``create_app``: the FastAPI application over one bootstrapped ``App``.

Nothing is built at import time. Routes live in one module per feature (the same names as
the services), all under ``/api/v1``; health checks and metrics sit at the root.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from vouchers.bootstrap import App
from vouchers.entrypoints.api import (
    customers,
    definitions,
    health,
    ledger,
    lots,
    problems,
    redemptions,
    runs,
    settings,
    types,
    vouchers,
    wallets,
)

API_PREFIX = "/api/v1"


def create_app(app: App) -> FastAPI:
    """The HTTP API on ``app`` (its database, keys and clock)."""
    api = FastAPI(
        title="Vouchers",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    api.state.vouchers = app
    problems.install(api)
    api.include_router(health.router)
    v1 = APIRouter(prefix=API_PREFIX)
    for module in (
        types,
        definitions,
        lots,
        vouchers,
        runs,
        customers,
        wallets,
        ledger,
        redemptions,
        settings,
    ):
        v1.include_router(module.router)
    api.include_router(v1)
    return api
