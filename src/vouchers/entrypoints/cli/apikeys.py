"""``vouchers apikeys``: create API keys (each shown once), list them, revoke them, and
check a key.

A key is printed only by ``create``, and only then: what is stored is the SHA-256 digest
of its secret, which cannot give the key back. ``check`` reads a key from an environment
variable or a hidden prompt, never from the command line.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.table import Table

from vouchers.domain.access import ApiKey, Role
from vouchers.entrypoints.cli.context import Json, console, emit, handled, state
from vouchers.errors import ValidationError
from vouchers.services import access as service

app = typer.Typer(
    help="API keys: credentials of host platforms and scripts, shown once.", no_args_is_help=True
)

KEY_ROLES = ", ".join(r.value for r in Role if r is not Role.CUSTOMER)


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="A unique name, e.g. the platform's.")],
    role: Annotated[
        list[str] | None, typer.Option("--role", help=f"A role ({KEY_ROLES}); repeatable.")
    ] = None,
    customer: Annotated[
        str | None,
        typer.Option("--customer", help="Confine the key to this customer (external reference)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Create a key and print it; it is not shown again."""
    with handled(as_json=as_json):
        if not role:
            raise ValidationError(f"give at least one --role ({KEY_ROLES})")
        cli = state(ctx)
        app_ = cli.app()
        issued = service.create_api_key(
            name,
            roles=role,
            customer_ref=customer,
            uow=app_.uow(),
            clock=app_.clock,
            actor=cli.settings.actor,
        )
    data = {"key": issued.key, **render_key(issued.api_key)}

    def human() -> None:
        print(issued.key)
        _print_fields(render_key(issued.api_key))
        console.print("Store the key now: it is not shown again.", highlight=False)

    emit(data, as_json=as_json, human=human)


@app.command("list")
def list_(ctx: typer.Context, as_json: Json = False) -> None:
    """Every key, revoked ones too (never a secret: none is stored)."""
    with handled(as_json=as_json):
        keys = service.list_api_keys(uow=state(ctx).app().uow())
    data = [render_key(k) for k in keys]

    def human() -> None:
        table = Table("name", "key id", "roles", "customer", "created", "by", "revoked")
        for row in data:
            table.add_row(
                row["name"],
                row["key_id"],
                ",".join(row["roles"]),
                row["customer"] or "",
                (row["created_at"] or "")[:10],
                row["created_by"],
                (row["revoked_at"] or "")[:10],
            )
        console.print(table)

    emit(data, as_json=as_json, human=human)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The key's name.")],
    as_json: Json = False,
) -> None:
    """Refuse a key from now on (revoking a revoked key changes nothing)."""
    with handled(as_json=as_json):
        cli = state(ctx)
        app_ = cli.app()
        revoked = service.revoke_api_key(
            name, uow=app_.uow(), clock=app_.clock, actor=cli.settings.actor
        )
    data = render_key(revoked)
    emit(data, as_json=as_json, human=lambda: console.print(f"revoked {revoked.name}"))


@app.command("check")
def check(
    ctx: typer.Context,
    key_env: Annotated[
        str | None,
        typer.Option(
            "--key-env", metavar="VAR", help="Read the key from this variable, not a prompt."
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Authenticate a key and print who it acts as; exits 11 if it is refused."""
    with handled(as_json=as_json):
        if key_env is not None:
            key = os.environ.get(key_env, "")
            if not key:
                raise ValidationError(f"environment variable {key_env} is not set or empty")
        else:
            key = typer.prompt("API key", hide_input=True)
        principal = service.authenticate_api_key(key, uow=state(ctx).app().uow())
    data = {
        "name": principal.name,
        "kind": principal.kind.value,
        "roles": sorted(r.value for r in principal.roles),
        "customer_id": principal.customer_id,
    }
    emit(data, as_json=as_json, human=lambda: _print_fields(data))


def render_key(key: ApiKey) -> dict[str, Any]:
    """A key's record as JSON-ready data: its public key id, never its digest."""
    return {
        "name": key.name,
        "key_id": key.key_id,
        "roles": sorted(r.value for r in key.roles),
        "customer": key.customer_ref,
        "created_at": key.created_at.isoformat() if key.created_at else None,
        "created_by": key.created_by,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "revoked_by": key.revoked_by,
    }


def _print_fields(data: dict[str, Any]) -> None:
    for key, value in data.items():
        shown = ",".join(value) if isinstance(value, list) else value
        console.print(f"{key:>12}: {shown}", highlight=False, markup=False)
