"""``vouchers list``, ``show`` and ``history``: vouchers with masked codes and their audit
trail; ``vouchers reveal``, the one command that prints a code in clear (with a reason, which
the service records in the voucher's history)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from vouchers.entrypoints.cli import render
from vouchers.entrypoints.cli.context import Json, console, emit, handled, parse_ref, state
from vouchers.services import vouchers as service


def register(app: typer.Typer) -> None:
    """Add the voucher commands to the root app."""
    app.command("list")(list_)
    app.command("show")(show)
    app.command("history")(history)
    app.command("reveal")(reveal)


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
        lot_ref = None if lot is None else parse_ref(lot)
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


def history(
    ctx: typer.Context,
    number: Annotated[int, typer.Argument(help="The voucher number.")],
    as_json: Json = False,
) -> None:
    """A voucher's history, oldest first: who moved it, when, and how."""
    with handled(as_json=as_json):
        entries = service.voucher_history(number, uow=state(ctx).app().uow())
    data = [render.history_entry(entry) for entry in entries]

    def human() -> None:
        table = Table("at", "process", "field", "from", "to", "by", "note")
        for row in data:
            table.add_row(
                row["at"][:19].replace("T", " "),  # to the second; --json has it in full
                row["process"],
                row["field"],
                row["from_value"],
                row["to_value"],
                row["by"],
                row["note"],
            )
        console.print(table)

    emit(data, as_json=as_json, human=human)


def reveal(
    ctx: typer.Context,
    number: Annotated[int, typer.Argument(help="The voucher number.")],
    reason: Annotated[str, typer.Option(help="Why the code is shown; kept in its history.")],
    as_json: Json = False,
) -> None:
    """Print one voucher's code in clear; the reveal, who and why go into its history."""
    cli = state(ctx)
    with handled(as_json=as_json):
        app_ = cli.app()
        code = service.reveal_code(
            number,
            reason=reason,
            uow=app_.uow(),
            vault=app_.vault,
            clock=app_.clock,
            actor=cli.settings.actor,
        )
    emit(
        {"number": number, "code": code},
        as_json=as_json,
        human=lambda: console.print(code, highlight=False, markup=False),
    )
