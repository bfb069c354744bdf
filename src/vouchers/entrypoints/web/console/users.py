"""Staff users (admin only): the list, creating a user with roles and a first password,
deactivating and reactivating, and setting a new password.

Sessions are signed cookies, not rows: deactivating a user or changing a password stops
the next sign-in, while a session already issued lasts until it expires (docs/api.md).
An admin cannot deactivate their own account, so the last admin cannot lock everyone out
by a slip.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from vouchers.bootstrap import App
from vouchers.domain.access import STAFF_ROLES, Permission, authorize
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
from vouchers.errors import ConflictError, ValidationError
from vouchers.services import access

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute)

KEYWORDS = {
    "username": ("username", "exists"),
    "password": ("password",),
    "roles": ("role",),
    "display_name": ("display name",),
}


def _context(app: App, **extra: Any) -> dict[str, Any]:
    return {
        "users": access.list_users(uow=app.uow()),
        "roles": sorted(r.value for r in STAFF_ROLES),
        "errors": {},
        "values": {},
        **extra,
    }


def _password(form: FormData, errors: FormErrors, field: str = "password") -> str | None:
    raw, again = form.get(field), form.get(f"{field}_again")
    password = raw if isinstance(raw, str) else ""
    if password != (again if isinstance(again, str) else ""):
        errors.add(field, "the two passwords differ")
        return None
    return password


@router.get("/users")
def list_users(request: Request, app: AppDep, principal: PagePrincipal) -> HTMLResponse:
    """Every staff user, and the form for a new one."""
    authorize(principal, Permission.USERS_MANAGE)
    return render(request, "users.html", _context(app))


@router.post("/users")
def create_user(request: Request, app: AppDep, principal: FormPrincipal, form: FormDep) -> Response:
    """Create an active staff user."""
    authorize(principal, Permission.USERS_MANAGE)
    errors = FormErrors(KEYWORDS)
    username = errors.parse("username", lambda: text(form, "username", max_length=64))
    display_name = errors.parse("display_name", lambda: text(form, "display_name"))
    roles = [r for r in form.getlist("roles") if isinstance(r, str)]
    password = _password(form, errors)
    if not username:
        errors.add("username", "give a username")
    if not roles:
        errors.add("roles", "give at least one role")
    if not errors:
        try:
            user = access.create_user(
                username or "",
                password or "",
                roles=roles,
                display_name=display_name or "",
                uow=app.uow(),
                passwords=app.passwords,
                clock=app.clock,
                actor=actor(principal),
            )
        except (ValidationError, ConflictError) as exc:
            errors.attach(exc)
        else:
            return see_other(f"{PREFIX}/users", f"user {user.username} created")
    values: dict[str, Any] = {
        "username": username or "", "display_name": display_name or "", "roles": roles,
    }  # fmt: skip
    return render(
        request, "users.html", _context(app, errors=errors.messages, values=values), status=422
    )


@router.post("/users/{username}/deactivate")
def deactivate_user(username: str, app: AppDep, principal: FormPrincipal) -> Response:
    """Stop a user from signing in (the user and their history stay)."""
    authorize(principal, Permission.USERS_MANAGE)
    if username.strip().lower() == principal.name:
        raise ValidationError("you cannot deactivate your own account")
    user = access.set_user_active(
        username[:64], False, uow=app.uow(), clock=app.clock, actor=actor(principal)
    )
    return see_other(f"{PREFIX}/users", f"{user.username} can no longer sign in")


@router.post("/users/{username}/activate")
def activate_user(username: str, app: AppDep, principal: FormPrincipal) -> Response:
    """Let a deactivated user sign in again."""
    authorize(principal, Permission.USERS_MANAGE)
    user = access.set_user_active(
        username[:64], True, uow=app.uow(), clock=app.clock, actor=actor(principal)
    )
    return see_other(f"{PREFIX}/users", f"{user.username} can sign in again")


@router.post("/users/{username}/password")
def reset_password(
    request: Request, username: str, app: AppDep, principal: FormPrincipal, form: FormDep
) -> Response:
    """Set a new password for a user (tell them by another channel)."""
    authorize(principal, Permission.USERS_MANAGE)
    errors = FormErrors()
    password = _password(form, errors, "new_password")
    if not errors:
        try:
            access.set_password(
                username[:64],
                password or "",
                uow=app.uow(),
                passwords=app.passwords,
                clock=app.clock,
                actor=actor(principal),
            )
        except ValidationError as exc:
            errors.add("new_password", exc.message)
        else:
            return see_other(f"{PREFIX}/users", f"new password set for {username[:64]}")
    return render(
        request,
        "users.html",
        _context(app, errors=errors.messages, failed=username[:64]),
        status=422,
    )
