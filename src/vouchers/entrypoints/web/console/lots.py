"""Lots: the list, the form that creates a draft lot, the lot page with its vouchers by
state, its first vouchers and the actions its state allows, and the route that requests
an action.

Each action (generate, amend, accept, reject, modify, activate, cancel, purge, export) is
requested as a process run, "now" or "schedule for" a moment, and the browser goes to the
run's page. Which actions a user is offered and what criteria a submitted one asks for is
``lot_actions``; the route checks the permission again.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from vouchers.bootstrap import App
from vouchers.domain.access import Permission, Principal, authorize
from vouchers.domain.exports import ExportFormat
from vouchers.domain.lots import Lot
from vouchers.domain.voucher_types import VoucherType
from vouchers.entrypoints.api.schemas_catalogue import amount_minor, parse_ref
from vouchers.entrypoints.web.auth import FormPrincipal, PagePrincipal
from vouchers.entrypoints.web.console.forms import (
    FORM,
    FormErrors,
    date,
    optional,
    schedule,
    text,
    whole_number,
)
from vouchers.entrypoints.web.console.lot_actions import (
    ACTION_KEYWORDS,
    ACTIONS,
    action_criteria,
    available_actions,
)
from vouchers.entrypoints.web.console.pages import (
    PREFIX,
    AppDep,
    ConsoleRoute,
    FormDep,
    actor,
    allowed,
    not_found,
    render,
    see_other,
)
from vouchers.entrypoints.web.console.runs import run_url, start_run
from vouchers.errors import ConflictError, InvalidTransitionError, ValidationError
from vouchers.services import dashboard
from vouchers.services import definitions as definition_service
from vouchers.services import lots as service
from vouchers.services import voucher_types as type_service
from vouchers.services import vouchers as voucher_service

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute)

FIRST_VOUCHERS = 20
CREATE_KEYWORDS = {
    "alternative_code": ("alternative code",),
    "expires_at": ("expiration",),
    "effective_at": ("effective",),
    "validity_days": ("validity",),
    "extra_value": ("extra value",),
    "value": ("fixed value", "variable value"),
    "prefix": ("prefix",),
    "count": ("count", "holds at most", "code space", "codes of this type"),
}


def _lot(app: App, ref: str) -> Lot:
    return service.get_lot(parse_ref(ref[:32]), uow=app.uow())


def lot_page(
    request: Request,
    app: App,
    principal: Principal,
    lot: Lot,
    *,
    failed: str | None = None,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The lot page; with ``failed``, the action whose form is shown again with errors."""
    voucher_type = type_service.get_voucher_type(lot.type_id, uow=app.uow())
    counts = dashboard.lot_state_counts(lot.id or 0, uow=app.uow(), clock=app.clock)
    actions, notes = available_actions(
        lot,
        counts,
        principal,
        definition=definition_service.active_definition(uow=app.uow()),
        four_eyes=app.settings.four_eyes,
    )
    first = (
        voucher_service.list_vouchers(
            uow=app.uow(), clock=app.clock, lot_ref=lot.id, limit=FIRST_VOUCHERS + 1
        )
        if allowed(principal, Permission.VOUCHERS_READ)
        else []
    )
    same_currency = [
        t
        for t in type_service.list_voucher_types(uow=app.uow())
        if t.currency == voucher_type.currency
    ]
    return render(
        request,
        "lots/show.html",
        {
            "lot": lot,
            "vt": voucher_type,
            "counts": counts,
            "total": sum(counts.values()),
            "actions": actions,
            "notes": notes,
            "vouchers": first[:FIRST_VOUCHERS],
            "more_vouchers": len(first) > FIRST_VOUCHERS,
            "types": same_currency,
            "formats": [f.value for f in ExportFormat],
            "failed": failed,
            "errors": {} if errors is None else errors.messages,
            "values": values or {},
        },
        status=status,
    )


@router.get("/lots")
def list_lots(
    request: Request, app: AppDep, principal: PagePrincipal, type: str | None = None
) -> HTMLResponse:
    """Lots, newest first, optionally of one type."""
    authorize(principal, Permission.LOTS_READ)
    type_ref = parse_ref(type[:32]) if type else None
    return render(
        request,
        "lots/list.html",
        {
            "lots": service.list_lots(uow=app.uow(), type_ref=type_ref),
            "types": type_service.list_voucher_types(uow=app.uow()),
            "type_filter": type or "",
        },
    )


def _new_context(app: App, errors: FormErrors | None, values: dict[str, Any]) -> dict[str, Any]:
    types: list[VoucherType] = type_service.list_voucher_types(uow=app.uow())
    return {
        "types": types,
        "errors": {} if errors is None else errors.messages,
        "values": values,
    }


@router.get("/lots/new")
def new_lot(
    request: Request, app: AppDep, principal: PagePrincipal, type: str = ""
) -> HTMLResponse:
    """The form for a new draft lot."""
    authorize(principal, Permission.LOTS_WRITE)
    return render(request, "lots/new.html", _new_context(app, None, {"type": type[:32]}))


@router.post("/lots")
def create_lot(request: Request, app: AppDep, principal: FormPrincipal, form: FormDep) -> Response:
    """Create a draft lot and show it, or show the form again with what is wrong."""
    authorize(principal, Permission.LOTS_WRITE)
    errors = FormErrors(CREATE_KEYWORDS)
    type_ref = text(form, "type", max_length=32)
    voucher_type = None
    if not type_ref:
        errors.add("type", "choose a voucher type")
    else:
        voucher_type = errors.parse(
            "type", lambda: type_service.get_voucher_type(parse_ref(type_ref), uow=app.uow())
        )
    count = errors.parse("count", lambda: whole_number(form, "count", high=10_000_000))
    cur = voucher_type.currency if voucher_type else None
    value = errors.parse("value", lambda: _amount(form, "value", cur))
    extra = errors.parse("extra_value", lambda: _amount(form, "extra_value", cur))
    effective = errors.parse("effective_at", lambda: date(form, "effective_at"))
    expires = errors.parse("expires_at", lambda: date(form, "expires_at"))
    days = errors.parse(
        "validity_days", lambda: whole_number(form, "validity_days", high=36_500, required=False)
    )
    code = errors.parse(
        "alternative_code", lambda: optional(form, "alternative_code", max_length=32)
    )
    prefix = errors.parse("prefix", lambda: optional(form, "prefix", max_length=16))
    description = errors.parse(
        "description", lambda: text(form, "description", max_length=2000, multiline=True)
    )
    if not errors and voucher_type is not None and count is not None:
        try:
            lot = service.create_lot(
                voucher_type.id or 0,
                count=count,
                uow=app.uow(),
                clock=app.clock,
                actor=actor(principal),
                alternative_code=code,
                value_minor=value,
                extra_value_minor=extra,
                effective_at=effective,
                expires_at=expires,
                validity_days=days,
                prefix=prefix,
                description=description or "",
            )
        except (ValidationError, ConflictError) as exc:
            errors.attach(exc)
        else:
            return see_other(
                f"{PREFIX}/lots/{lot.alternative_code}", f"draft lot {lot.alternative_code} created"
            )
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    return render(request, "lots/new.html", _new_context(app, errors, values), status=422)


def _amount(form: FormData, name: str, cur: Any) -> int | None:
    value = text(form, name, max_length=40)
    if not value or cur is None:
        return None
    return amount_minor(value, cur)


@router.get("/lots/{ref}")
def show_lot(request: Request, ref: str, app: AppDep, principal: PagePrincipal) -> HTMLResponse:
    """One lot: its figures, its vouchers by state, its first vouchers and its actions."""
    authorize(principal, Permission.LOTS_READ)
    return lot_page(request, app, principal, _lot(app, ref))


@router.post("/lots/{ref}/{action}")
def lot_action(
    request: Request,
    ref: str,
    action: str,
    app: AppDep,
    principal: FormPrincipal,
    form: FormDep,
    tasks: BackgroundTasks,
) -> Response:
    """Request one action on the lot as a run (now or scheduled) and show the run."""
    chosen = ACTIONS.get(action)
    if chosen is None:
        raise not_found(f"lot action {action[:20]!r}")
    authorize(principal, chosen.permission)
    lot = _lot(app, ref)
    errors = FormErrors(ACTION_KEYWORDS)
    scheduled_for = errors.parse("scheduled_for", lambda: schedule(form))
    criteria = action_criteria(chosen, lot, form, errors)
    if not errors and criteria is not None:
        try:
            if chosen.name == "amend":
                count = whole_number(form, "count", high=10_000_000) or 0
                service.amend_lot(
                    lot.id or 0, count=count, uow=app.uow(), clock=app.clock, actor=actor(principal)
                )
            run = start_run(
                app,
                chosen.process,
                criteria,
                principal=principal,
                scheduled_for=scheduled_for,
                tasks=tasks,
            )
        except (ValidationError, InvalidTransitionError, ConflictError) as exc:
            errors.attach(exc)
        else:
            when = "scheduled" if scheduled_for is not None else "started"
            return see_other(run_url(run), f"{chosen.process} run #{run.id} {when}")
    if not errors:
        errors.add(FORM, f"cannot {chosen.name} this lot")
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    return lot_page(
        request, app, principal, lot, failed=chosen.name, errors=errors, values=values, status=422
    )
