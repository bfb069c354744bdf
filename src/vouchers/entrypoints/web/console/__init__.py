"""The staff console at ``/console``: server-rendered pages over the same services as the
API and the CLI, one module per area (the feature names of the other layers).

Every page needs a signed-in staff user (``PagePrincipal`` redirects to the sign-in page)
and shows only what the user's roles allow: menus and buttons come from
``Principal.permissions``, and every route checks again with ``authorize`` (a hidden
button is a courtesy, the check is the rule). Forms are plain HTML posts with the
session's CSRF token that answer with a 303 redirect (post/redirect/get); htmx only
improves what already works: live progress of runs.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from vouchers.entrypoints.web.console import (
    apikeys,
    customers,
    dashboard,
    definitions,
    lots,
    runs,
    sessions,
    settings,
    types,
    users,
    vouchers,
)
from vouchers.entrypoints.web.console.pages import PREFIX, ConsoleRoute, error_page

_fallback = APIRouter(prefix=PREFIX, route_class=ConsoleRoute)


@_fallback.get("/{rest:path}", include_in_schema=False)
def unknown_page(request: Request, rest: str) -> HTMLResponse:
    """Any other console address: the 404 page."""
    return error_page(request, f"there is no page {request.url.path}", 404)


def install(api: FastAPI) -> None:
    """Add the console's pages to ``api``, and send visitors of ``/`` to the console."""

    @api.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse(PREFIX, status_code=303)

    for module in (
        sessions,
        dashboard,
        types,
        definitions,
        lots,
        vouchers,
        runs,
        customers,
        settings,
        users,
        apikeys,
    ):
        api.include_router(module.router, include_in_schema=False)
    api.include_router(_fallback, include_in_schema=False)
