"""``vouchers lots``: create lots, generate their vouchers, list and show them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from vouchers.domain.lifecycle import Process
from vouchers.domain.money import Money
from vouchers.domain.runs import RunStatus
from vouchers.entrypoints.cli import render, runs
from vouchers.entrypoints.cli.context import (
    Json,
    console,
    emit,
    handled,
    parse_moment,
    parse_ref,
    state,
)
from vouchers.services import lots as service
from vouchers.services import voucher_types

app = typer.Typer(help="Lots: batches of vouchers generated together.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    type_ref: Annotated[str, typer.Option("--type", help="Voucher type alternative code or id.")],
    count: Annotated[int, typer.Option(help="How many vouchers.")],
    alternative_code: Annotated[
        str | None, typer.Option(help="Unique code; default TYPE-n.")
    ] = None,
    value: Annotated[str | None, typer.Option(help="Value, for variable-value types.")] = None,
    extra_value: Annotated[str | None, typer.Option(help="Extra value, variable types.")] = None,
    effective: Annotated[
        str | None, typer.Option(help="Effective from (ISO 8601); default now.")
    ] = None,
    expires: Annotated[str | None, typer.Option(help="Expiration (ISO 8601).")] = None,
    validity_days: Annotated[
        int | None, typer.Option(help="Validity in days instead of --expires.")
    ] = None,
    prefix: Annotated[str | None, typer.Option(help="Code prefix for this lot, e.g. 12.")] = None,
    description: Annotated[str, typer.Option(help="Free text.")] = "",
    as_json: Json = False,
) -> None:
    """Create a draft lot; `lots generate` then makes its codes."""
    cli = state(ctx)
    with handled(as_json=as_json):
        app_ = cli.app()
        type_ = parse_ref(type_ref)
        cur = voucher_types.get_voucher_type(type_, uow=app_.uow()).currency
        lot = service.create_lot(
            type_,
            count=count,
            uow=app_.uow(),
            clock=app_.clock,
            actor=cli.settings.actor,
            alternative_code=alternative_code,
            value_minor=None if value is None else Money.parse(value, cur).minor,
            extra_value_minor=None if extra_value is None else Money.parse(extra_value, cur).minor,
            effective_at=parse_moment(effective),
            expires_at=parse_moment(expires),
            validity_days=validity_days,
            prefix=prefix,
            description=description,
        )
    data = render.lot(lot)
    emit(data, as_json=as_json, human=lambda: _print_lot(data))


@app.command("generate")
def generate(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Lot alternative code or id.")],
    at: Annotated[
        str | None,
        typer.Option("--at", help="Schedule for this time (ISO 8601) instead of running now."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Generate the vouchers of a draft lot (continues an interrupted generation)."""
    _generate(ctx, ref, at=at, as_json=as_json)


@app.command("amend")
def amend(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Lot alternative code or id.")],
    count: Annotated[int, typer.Option(help="How many vouchers to add.")],
    at: Annotated[
        str | None,
        typer.Option("--at", help="Generate them at this time (ISO 8601) instead of now."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Add vouchers to a posted lot (in a new block of numbers) and generate them."""
    cli = state(ctx)
    with handled(as_json=as_json):
        application = cli.app()
        service.amend_lot(
            parse_ref(ref),
            count=count,
            uow=application.uow(),
            clock=application.clock,
            actor=cli.settings.actor,
        )
    _generate(ctx, ref, at=at, as_json=as_json)


def _generate(ctx: typer.Context, ref: str, *, at: str | None, as_json: bool) -> None:
    run = runs.submit(ctx, Process.GENERATE, {"lot": parse_ref(ref)}, at=at, as_json=as_json)
    if run.status is RunStatus.SCHEDULED:
        scheduled = runs.render(run)
        emit(scheduled, as_json=as_json, human=lambda: console.print(scheduled))
        return
    with handled(as_json=as_json):
        lot = service.get_lot(parse_ref(ref), uow=state(ctx).app().uow())
    data = render.lot(lot)
    emit(data, as_json=as_json, human=lambda: _print_lot(data))


@app.command("list")
def list_(
    ctx: typer.Context,
    type_ref: Annotated[str | None, typer.Option("--type", help="Only lots of this type.")] = None,
    as_json: Json = False,
) -> None:
    """List lots, newest first."""
    with handled(as_json=as_json):
        found = service.list_lots(
            uow=state(ctx).app().uow(), type_ref=None if type_ref is None else parse_ref(type_ref)
        )
    data = [render.lot(lot) for lot in found]

    def human() -> None:
        table = Table("lot", "state", "count", "generated", "value", "expires")
        for row in data:
            table.add_row(
                row["alternative_code"],
                row["state"],
                f"{row['count']:,}",
                f"{row['generated_count']:,}",
                row["value"],
                row["expires_at"],
            )
        console.print(table)

    emit(data, as_json=as_json, human=human)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Lot alternative code or id.")],
    as_json: Json = False,
) -> None:
    """Show one lot."""
    with handled(as_json=as_json):
        lot = service.get_lot(parse_ref(ref), uow=state(ctx).app().uow())
    data = render.lot(lot)
    emit(data, as_json=as_json, human=lambda: _print_lot(data))


def _print_lot(data: dict[str, object]) -> None:
    console.print(
        f"[bold]{data['alternative_code']}[/] {data['state']}: "
        f"{data['generated_count']:,}/{data['count']:,} vouchers of {data['value']}, "
        f"valid {data['effective_at']} to {data['expires_at']}"
    )
