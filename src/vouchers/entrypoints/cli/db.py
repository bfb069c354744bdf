"""``vouchers db``: apply migrations and tell where the database stands."""

from __future__ import annotations

import typer

from vouchers.bootstrap import database_status, upgrade_database
from vouchers.entrypoints.cli.context import Json, console, emit, handled, state

app = typer.Typer(help="The database: migrations.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context, as_json: Json = False) -> None:
    """Apply every migration this version ships."""
    with handled(as_json=as_json):
        data = upgrade_database(state(ctx).settings)
    emit(data, as_json=as_json, human=lambda: console.print(f"database at {data['current']}"))


@app.command("status")
def status(ctx: typer.Context, as_json: Json = False) -> None:
    """The database's migration and the newest one this version ships."""
    with handled(as_json=as_json):
        data = database_status(state(ctx).settings)
    emit(
        data,
        as_json=as_json,
        human=lambda: console.print(f"database at {data['current']}, head is {data['head']}"),
    )
