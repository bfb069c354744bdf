"""API keys (admin only): the list, creating a key — shown once, on the answer of the
form, never stored or sent again — and revoking one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from vouchers.bootstrap import App
from vouchers.domain.access import KIND_ROLES, Permission, PrincipalKind, authorize
from vouchers.entrypoints.web.auth import FormPrincipal, PagePrincipal
from vouchers.entrypoints.web.console.forms import FormErrors, optional, text
from vouchers.entrypoints.web.console.pages import (
    PREFIX,
    AppDep,
    ConsoleRoute,
    FormDep,
    actor,
    render,
    see_other,
)
from vouchers.errors import ConflictError, CustomerNotFoundError, ValidationError
from vouchers.services import access

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute)

KEYWORDS = {"name": ("key name", "exists"), "roles": ("role",), "customer": ("customer",)}


def _context(app: App, **extra: Any) -> dict[str, Any]:
    return {
        "keys": access.list_api_keys(uow=app.uow()),
        "roles": sorted(r.value for r in KIND_ROLES[PrincipalKind.API_KEY]),
        "errors": {},
        "values": {},
        "issued": None,
        **extra,
    }


@router.get("/api-keys")
def list_keys(request: Request, app: AppDep, principal: PagePrincipal) -> HTMLResponse:
    """Every API key (revoked ones too), and the form for a new one."""
    authorize(principal, Permission.APIKEYS_MANAGE)
    return render(request, "apikeys.html", _context(app))


@router.post("/api-keys")
def create_key(request: Request, app: AppDep, principal: FormPrincipal, form: FormDep) -> Response:
    """Create a key and show it this once."""
    authorize(principal, Permission.APIKEYS_MANAGE)
    errors = FormErrors(KEYWORDS)
    name = errors.parse("name", lambda: text(form, "name", max_length=100))
    customer = errors.parse("customer", lambda: optional(form, "customer", max_length=64))
    roles = [r for r in form.getlist("roles") if isinstance(r, str)]
    if not name:
        errors.add("name", "give the key a name")
    if not roles:
        errors.add("roles", "give at least one role")
    if not errors:
        try:
            issued = access.create_api_key(
                name or "",
                roles=roles,
                uow=app.uow(),
                clock=app.clock,
                actor=actor(principal),
                customer_ref=customer,
            )
        except CustomerNotFoundError as exc:
            errors.add("customer", exc.message)
        except (ValidationError, ConflictError) as exc:
            errors.attach(exc)
        else:
            return render(request, "apikeys.html", _context(app, issued=issued), status=201)
    values = {"name": name or "", "customer": customer or "", "roles": roles}
    return render(
        request, "apikeys.html", _context(app, errors=errors.messages, values=values), status=422
    )


@router.post("/api-keys/{name}/revoke")
def revoke_key(name: str, app: AppDep, principal: FormPrincipal) -> Response:
    """Refuse the key from now on."""
    authorize(principal, Permission.APIKEYS_MANAGE)
    revoked = access.revoke_api_key(
        name[:100], uow=app.uow(), clock=app.clock, actor=actor(principal)
    )
    return see_other(f"{PREFIX}/api-keys", f"API key {revoked.name} revoked")
