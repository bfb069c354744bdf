"""Business definitions: which states each restrictable process may address (only ever
narrower than the default), with at most one definition active."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from vouchers.domain.access import Permission, authorize
from vouchers.domain.lifecycle import ADDRESSES, RESTRICTABLE, BusinessDefinition, Process
from vouchers.domain.vouchers import VoucherState
from vouchers.entrypoints.api.schemas_catalogue import parse_ref
from vouchers.entrypoints.web.auth import FormPrincipal, PagePrincipal
from vouchers.entrypoints.web.console.forms import FormErrors, checked, text
from vouchers.entrypoints.web.console.pages import (
    PREFIX,
    AppDep,
    ConsoleRoute,
    FormDep,
    actor,
    render,
    see_other,
)
from vouchers.errors import ConflictError, ValidationError
from vouchers.services import definitions as service

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute)

PROCESSES = sorted(RESTRICTABLE)
KEYWORDS = {
    "alternative_code": ("alternative code",),
    "name": ("needs a name",),
    **{f"states_{p.value}": (f"{p.value} can only",) for p in PROCESSES},
}


def _context(errors: FormErrors | None = None, values: Any = None) -> dict[str, Any]:
    return {
        "processes": [(p.value, sorted(s.value for s in ADDRESSES[p])) for p in PROCESSES],
        "errors": {} if errors is None else errors.messages,
        "values": values or {},
    }


@router.get("/definitions")
def list_definitions(request: Request, app: AppDep, principal: PagePrincipal) -> HTMLResponse:
    """Every definition; the active one marked."""
    authorize(principal, Permission.DEFINITIONS_READ)
    return render(
        request,
        "definitions/list.html",
        {
            "definitions": service.list_definitions(uow=app.uow()),
            "defaults": [(p.value, sorted(s.value for s in ADDRESSES[p])) for p in PROCESSES],
        },
    )


@router.get("/definitions/new")
def new_definition(request: Request, principal: PagePrincipal) -> HTMLResponse:
    """The form for a new definition."""
    authorize(principal, Permission.DEFINITIONS_WRITE)
    return render(request, "definitions/new.html", _context())


@router.post("/definitions")
def create_definition(
    request: Request, app: AppDep, principal: FormPrincipal, form: FormDep
) -> Response:
    """Create a definition (and activate it if asked), or show the form again."""
    authorize(principal, Permission.DEFINITIONS_WRITE)
    errors = FormErrors(KEYWORDS)
    restrictions: dict[Process, frozenset[VoucherState]] = {}
    for process in PROCESSES:
        if checked(form, f"restrict_{process.value}"):
            chosen = [v for v in form.getlist(f"states_{process.value}") if isinstance(v, str)]
            try:
                restrictions[process] = frozenset(VoucherState(v) for v in chosen)
            except ValueError:
                errors.add(f"states_{process.value}", "choose states from the list")
    name = errors.parse("name", lambda: text(form, "name"))
    code = errors.parse("alternative_code", lambda: text(form, "alternative_code", max_length=32))
    if not errors:
        try:
            definition = BusinessDefinition(
                alternative_code=code or "", name=name or "", restrictions=restrictions
            )
            saved = service.create_definition(
                definition,
                uow=app.uow(),
                clock=app.clock,
                actor=actor(principal),
                activate=checked(form, "activate"),
            )
        except (ValidationError, ConflictError) as exc:
            errors.attach(exc)
        else:
            return see_other(
                f"{PREFIX}/definitions", f"business definition {saved.alternative_code} created"
            )
    values: dict[str, Any] = {k: v for k, v in form.items() if isinstance(v, str)}
    for process in PROCESSES:
        values[f"states_{process.value}"] = form.getlist(f"states_{process.value}")
    return render(request, "definitions/new.html", _context(errors, values), status=422)


@router.post("/definitions/deactivate")
def deactivate_definitions(app: AppDep, principal: FormPrincipal) -> Response:
    """Leave no definition active: every process addresses its default states."""
    authorize(principal, Permission.DEFINITIONS_WRITE)
    service.deactivate_definitions(uow=app.uow())
    return see_other(f"{PREFIX}/definitions", "no business definition is active now")


@router.post("/definitions/{ref}/activate")
def activate_definition(ref: str, app: AppDep, principal: FormPrincipal) -> Response:
    """Make this definition the active one."""
    authorize(principal, Permission.DEFINITIONS_WRITE)
    active = service.activate_definition(parse_ref(ref[:32]), uow=app.uow())
    return see_other(f"{PREFIX}/definitions", f"{active.alternative_code} is the active definition")
