"""``vouchers demo``: a data directory, a voucher type and a generated lot, listed.

The quick start's first command until the server exists. Running it again reuses the
demo type and adds another lot.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from vouchers.domain.money import Money, currency
from vouchers.domain.voucher_types import VoucherType
from vouchers.entrypoints.cli import render
from vouchers.entrypoints.cli.context import console, emit, handled, state
from vouchers.errors import VoucherTypeNotFoundError
from vouchers.services import lots, voucher_types, vouchers

DEMO_TYPE = "PREM"


def register(app: typer.Typer) -> None:
    """Add the demo command to the root app."""
    app.command("demo")(demo)


def demo(
    ctx: typer.Context,
    count: Annotated[int, typer.Option(min=1, max=1000, help="Vouchers in the demo lot.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Create demo data on the configured database and list it."""
    cli = state(ctx)
    with handled(as_json=as_json):
        app_ = cli.app()
        actor = cli.settings.actor
        try:
            voucher_type = voucher_types.get_voucher_type(DEMO_TYPE, uow=app_.uow())
        except VoucherTypeNotFoundError:
            eur = currency("EUR")
            voucher_type = voucher_types.create_voucher_type(
                VoucherType(
                    alternative_code=DEMO_TYPE,
                    name="Premium services",
                    currency=eur,
                    value_minor=Money.of("50.00", eur).minor,
                    products=("GOLD", "SILVER"),
                    notes="Created by 'vouchers demo'.",
                ),
                uow=app_.uow(),
                clock=app_.clock,
                actor=actor,
            )
        lot = lots.create_lot(
            DEMO_TYPE,
            count=count,
            uow=app_.uow(),
            clock=app_.clock,
            actor=actor,
            description="Demo lot",
        )
        lot = lots.generate_lot(
            lot.alternative_code, uow=app_.uow(), vault=app_.vault, clock=app_.clock, actor=actor
        )
        found = vouchers.list_vouchers(
            uow=app_.uow(), clock=app_.clock, lot_ref=lot.alternative_code
        )
    rows = [render.voucher(view) for view in found]
    data: dict[str, object] = {
        "home": str(cli.settings.home),
        "database_url": cli.settings.database_url,
        "voucher_type": render.voucher_type(voucher_type),
        "lot": render.lot(lot),
        "vouchers": rows,
    }

    def human() -> None:
        console.print(f"data directory: {data['home']}")
        console.print(
            f"voucher type {DEMO_TYPE} ({voucher_type.name}), lot {lot.alternative_code} "
            f"{lot.state} with {lot.generated_count} vouchers:"
        )
        table = Table("number", "code", "state", "value", "expires")
        for row in rows:
            table.add_row(
                str(row["number"]), row["code"], row["state"], row["value"], row["expires_at"]
            )
        console.print(table)
        console.print("Codes are shown masked; the database holds only digests and ciphertexts.")

    emit(data, as_json=as_json, human=human)
