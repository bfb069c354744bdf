"""``vouchers users``: create staff users, list them, change a password, disable and enable.

A password never comes from the command line (argv is visible to every user of the
machine and lands in shell history): it is read from the environment variable named by
``--password-env``, or prompted for twice on the terminal. The CLI itself is trusted as
the operator's shell on the server (it is how the first admin is made); the HTTP API will
check roles with ``vouchers.domain.access.authorize``.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.table import Table

from vouchers.domain.access import Role, StaffUser
from vouchers.entrypoints.cli.context import Json, console, emit, handled, state
from vouchers.errors import ValidationError
from vouchers.services import access as service

app = typer.Typer(
    help="Staff users: who signs in to the console, with which roles.", no_args_is_help=True
)

Username = Annotated[str, typer.Argument(help="Login name (lower-case).")]
PasswordEnv = Annotated[
    str | None,
    typer.Option(
        "--password-env",
        metavar="VAR",
        help="Read the password from this environment variable instead of prompting.",
    ),
]
STAFF_ROLES = ", ".join(
    r.value for r in (Role.ADMIN, Role.OPERATOR, Role.FINANCE, Role.SUPPORT, Role.AUDITOR)
)


@app.command("create")
def create(
    ctx: typer.Context,
    username: Username,
    role: Annotated[
        list[str] | None, typer.Option("--role", help=f"A role ({STAFF_ROLES}); repeatable.")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    password_env: PasswordEnv = None,
    as_json: Json = False,
) -> None:
    """Create an active staff user with one or more roles."""
    with handled(as_json=as_json):
        if not role:
            raise ValidationError(f"give at least one --role ({STAFF_ROLES})")
        password = read_password(password_env, confirm=True)
        cli = state(ctx)
        app_ = cli.app()
        user = service.create_user(
            username,
            password,
            roles=role,
            display_name=name,
            uow=app_.uow(),
            passwords=app_.passwords,
            clock=app_.clock,
            actor=cli.settings.actor,
        )
    data = render_user(user)
    emit(data, as_json=as_json, human=lambda: _print_fields(data))


@app.command("list")
def list_(ctx: typer.Context, as_json: Json = False) -> None:
    """Every staff user (never a password hash)."""
    with handled(as_json=as_json):
        users = service.list_users(uow=state(ctx).app().uow())
    data = [render_user(u) for u in users]

    def human() -> None:
        table = Table("username", "name", "roles", "active", "created", "by")
        for row in data:
            table.add_row(
                row["username"],
                row["display_name"],
                ",".join(row["roles"]),
                "yes" if row["active"] else "no",
                (row["created_at"] or "")[:10],
                row["created_by"],
            )
        console.print(table)

    emit(data, as_json=as_json, human=human)


@app.command("passwd")
def passwd(
    ctx: typer.Context, username: Username, password_env: PasswordEnv = None, as_json: Json = False
) -> None:
    """Set a user's password."""
    with handled(as_json=as_json):
        password = read_password(password_env, confirm=True)
        cli = state(ctx)
        app_ = cli.app()
        service.set_password(
            username,
            password,
            uow=app_.uow(),
            passwords=app_.passwords,
            clock=app_.clock,
            actor=cli.settings.actor,
        )
    data = {"username": username.strip().lower(), "password_changed": True}
    emit(
        data,
        as_json=as_json,
        human=lambda: console.print(f"password changed for {data['username']}"),
    )


@app.command("disable")
def disable(ctx: typer.Context, username: Username, as_json: Json = False) -> None:
    """Stop a user from signing in (the user and its history stay)."""
    _set_active(ctx, username, active=False, as_json=as_json)


@app.command("enable")
def enable(ctx: typer.Context, username: Username, as_json: Json = False) -> None:
    """Let a disabled user sign in again."""
    _set_active(ctx, username, active=True, as_json=as_json)


def _set_active(ctx: typer.Context, username: str, *, active: bool, as_json: bool) -> None:
    with handled(as_json=as_json):
        cli = state(ctx)
        app_ = cli.app()
        user = service.set_user_active(
            username, active, uow=app_.uow(), clock=app_.clock, actor=cli.settings.actor
        )
    data = render_user(user)
    word = "enabled" if active else "disabled"
    emit(data, as_json=as_json, human=lambda: console.print(f"{word} {user.username}"))


def read_password(variable: str | None, *, confirm: bool) -> str:
    """The password from the named environment variable, or prompted for (twice when
    ``confirm``); raises ValidationError for a variable that is unset or empty."""
    if variable is not None:
        value = os.environ.get(variable, "")
        if not value:
            raise ValidationError(f"environment variable {variable} is not set or empty")
        return value
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return password


def render_user(user: StaffUser) -> dict[str, Any]:
    """A user as JSON-ready data; the password hash is left out."""
    return {
        "username": user.username,
        "display_name": user.display_name,
        "roles": sorted(r.value for r in user.roles),
        "active": user.active,
        "created_at": user.created_at.isoformat() if user.created_at else None,
        "created_by": user.created_by,
        "password_changed_at": (
            user.password_changed_at.isoformat() if user.password_changed_at else None
        ),
    }


def _print_fields(data: dict[str, Any]) -> None:
    for key, value in data.items():
        shown = ",".join(value) if isinstance(value, list) else value
        console.print(f"{key:>20}: {shown}", highlight=False, markup=False)
