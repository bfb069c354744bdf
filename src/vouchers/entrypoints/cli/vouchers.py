"""``vouchers list`` and ``vouchers show``: vouchers with masked codes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from vouchers.entrypoints.cli import render
from vouchers.entrypoints.cli.context import console, emit, handled, state
from vouchers.services import vouchers as service

Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def register(app: typer.Typer) -> None:
    """Add the voucher commands to the root app."""
    app.command("list")(list_)
    app.command("show")(show)


def list_(
    ctx: typer.Context,
    lot: Annotated[str | None, typer.Option(help="Only vouchers of this lot.")] = None,
    after: Annotated[int, typer.Option(help="Start after this voucher number.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    as_json: Json = False,
) -> None:
    """List vouchers in number order, codes masked."""
    with handled(as_json=as_json):
        app_ = state(ctx).app()
        lot_ref = None if lot is None else (int(lot) if lot.isdigit() else lot)
        found = service.list_vouchers(
            uow=app_.uow(), clock=app_.clock, lot_ref=lot_ref, after=after, limit=limit
        )
    data = [render.voucher(view) for view in found]

    def human() -> None:
        table = Table("number", "code", "state", "value", "expires")
        for row in data:
            table.add_row(
                str(row["number"]), row["code"], row["state"], row["value"], row["expires_at"]
            )
        console.print(table)

    emit(data, as_json=as_json, human=human)


def show(
    ctx: typer.Context,
    number: Annotated[int, typer.Argument(help="The voucher number.")],
    as_json: Json = False,
) -> None:
    """Show one voucher, code masked."""
    with handled(as_json=as_json):
        app_ = state(ctx).app()
        data = render.voucher(service.get_voucher(number, uow=app_.uow(), clock=app_.clock))

    def human() -> None:
        for key, value in data.items():
            console.print(f"{key:>14}: {value}", highlight=False)

    emit(data, as_json=as_json, human=human)
