"""The dashboard: vouchers by state, value issued and redeemed today and this month,
recent runs and failed-attempt alerts; each panel only for roles that may read it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from vouchers.domain.access import Permission
from vouchers.entrypoints.web.auth import PagePrincipal
from vouchers.entrypoints.web.console.pages import PREFIX, AppDep, ConsoleRoute, allowed, render
from vouchers.services import dashboard as service

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute)


@router.get("", name="console_dashboard")
def show_dashboard(request: Request, app: AppDep, principal: PagePrincipal) -> HTMLResponse:
    """What the operator sees first."""
    figures = service.show_dashboard(uow=app.uow(), clock=app.clock)
    return render(
        request,
        "dashboard.html",
        {
            "dashboard": figures,
            "show_vouchers": allowed(principal, Permission.VOUCHERS_READ),
            "show_money": allowed(principal, Permission.REPORTS_READ),
            "show_runs": allowed(principal, Permission.RUNS_READ),
            "show_alerts": allowed(principal, Permission.REPORTS_READ)
            or allowed(principal, Permission.AUDIT_READ),
        },
    )
