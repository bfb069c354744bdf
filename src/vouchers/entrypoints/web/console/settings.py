"""Operator settings: every setting with its effective value and meaning (admin and
auditor read them), a form per setting for the admin, per-currency amounts, and the
recent changes with who, when, old and new value."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from vouchers.bootstrap import App
from vouchers.domain.access import Permission, authorize
from vouchers.domain.settings import DEFINITIONS, PER_CURRENCY
from vouchers.entrypoints.web.auth import FormPrincipal, PagePrincipal
from vouchers.entrypoints.web.console.forms import FormErrors, text
from vouchers.entrypoints.web.console.pages import (
    PREFIX,
    AppDep,
    ConsoleRoute,
    FormDep,
    actor,
    render,
    see_other,
)
from vouchers.errors import ValidationError
from vouchers.services import settings as service

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute)

CHANGES = 20


def _context(app: App, errors: FormErrors | None = None, values: Any = None) -> dict[str, Any]:
    effective = service.show_settings(uow=app.uow())
    rows = [
        {
            "key": key,
            "value": value,
            "help": DEFINITIONS[key.partition(".")[0]].help,
            "default": DEFINITIONS[key.partition(".")[0]].default,
        }
        for key, value in effective.items()
    ]
    return {
        "rows": rows,
        "per_currency": sorted(PER_CURRENCY),
        "changes": service.setting_changes(uow=app.uow(), limit=CHANGES),
        "errors": {} if errors is None else errors.messages,
        "values": values or {},
    }


@router.get("/settings")
def show_settings(request: Request, app: AppDep, principal: PagePrincipal) -> HTMLResponse:
    """Every setting (defaults included) and the latest changes."""
    authorize(principal, Permission.SETTINGS_READ)
    return render(request, "settings.html", _context(app))


@router.post("/settings")
def set_setting(request: Request, app: AppDep, principal: FormPrincipal, form: FormDep) -> Response:
    """Change one setting (``none`` or empty restores the default)."""
    authorize(principal, Permission.SETTINGS_WRITE)
    errors = FormErrors()
    key = text(form, "key", max_length=100)
    currency_code = text(form, "currency", max_length=3).upper()
    if currency_code and "." not in key:
        key = f"{key}.{currency_code}"
    field = _field_of(app, key)
    value = errors.parse(field, lambda: text(form, "value", max_length=200))
    if not errors:
        try:
            change = service.set_setting(
                key, value or "none", uow=app.uow(), clock=app.clock, actor=actor(principal)
            )
        except ValidationError as exc:
            errors.add(field, exc.message)
        else:
            new = change["new"] if change["new"] is not None else "the default"
            return see_other(f"{PREFIX}/settings", f"{change['key']} is now {new}")
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    context = _context(app, errors, values)
    context["failed"] = field
    return render(request, "settings.html", context, status=422)


def _field_of(app: App, key: str) -> str:
    """Where a setting's error is shown: its row, the per-currency form, or above all."""
    if key in service.show_settings(uow=app.uow()):
        return key
    return "per_currency" if key.partition(".")[0] in PER_CURRENCY else "key"
