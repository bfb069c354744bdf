"""``vouchers demo``: a data directory, a voucher type and a generated lot, listed; and the
refill-coupon story: two coupons of 10 redeemed by a customer whose balance goes 0 → 20.

The quick start's first command until the server exists. Running it again reuses the
demo types and customer and adds more lots (and 20.00 more to the balance).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from vouchers.domain.money import Money, currency
from vouchers.domain.redemptions import Channel
from vouchers.domain.voucher_types import VoucherType
from vouchers.entrypoints.cli import render
from vouchers.entrypoints.cli.context import CliState, console, emit, handled, state
from vouchers.errors import CustomerNotFoundError, VoucherTypeNotFoundError
from vouchers.services import customers, lots, redemptions, voucher_types, vouchers
from vouchers.services.redemptions import RedemptionRequest

DEMO_TYPE = "PREM"
REFILL_TYPE = "REFILL"
DEMO_CUSTOMER = "DEMO-1"


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
        refill = _refill_story(cli)
    rows = [render.voucher(view) for view in found]
    data: dict[str, object] = {
        "home": str(cli.settings.home),
        "database_url": cli.settings.database_url,
        "voucher_type": render.voucher_type(voucher_type),
        "lot": render.lot(lot),
        "vouchers": rows,
        "refill": refill,
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
        console.print(
            f"customer {DEMO_CUSTOMER} redeemed two refill coupons of 10.00 EUR: balance "
            f"{refill['balance_before']} → {refill['balance_after']}"
        )

    emit(data, as_json=as_json, human=human)


def _refill_story(cli: CliState) -> dict[str, str]:
    """The refill-coupon document's example: two coupons of 10 take a balance from 0 to 20."""
    app_, actor = cli.app(), cli.settings.actor
    eur = currency("EUR")
    try:
        voucher_types.get_voucher_type(REFILL_TYPE, uow=app_.uow())
    except VoucherTypeNotFoundError:
        voucher_types.create_voucher_type(
            VoucherType(
                alternative_code=REFILL_TYPE,
                name="Refill coupon",
                currency=eur,
                value_minor=Money.of("10.00", eur).minor,
                auto_activate=True,
                notes="Created by 'vouchers demo'.",
            ),
            uow=app_.uow(),
            clock=app_.clock,
            actor=actor,
        )
    try:
        customers.get_customer(DEMO_CUSTOMER, uow=app_.uow())
    except CustomerNotFoundError:
        customers.create_customer(
            DEMO_CUSTOMER, name="Demo customer", uow=app_.uow(), clock=app_.clock, actor=actor
        )
    before = _balance(cli)
    lot = lots.create_lot(REFILL_TYPE, count=2, uow=app_.uow(), clock=app_.clock, actor=actor)
    lots.generate_lot(
        lot.alternative_code, uow=app_.uow(), vault=app_.vault, clock=app_.clock, actor=actor
    )
    for view in vouchers.list_vouchers(
        uow=app_.uow(), clock=app_.clock, lot_ref=lot.alternative_code
    ):
        code = vouchers.reveal_code(
            view.voucher.number,
            reason="demo: redeem for the demo customer",
            uow=app_.uow(),
            vault=app_.vault,
            clock=app_.clock,
            actor=actor,
        )
        redemptions.redeem_voucher(
            RedemptionRequest(code=code, customer=DEMO_CUSTOMER, channel=Channel.CLI),
            uow=app_.uow(),
            vault=app_.vault,
            clock=app_.clock,
            actor=actor,
        )
    return {"customer": DEMO_CUSTOMER, "balance_before": before, "balance_after": _balance(cli)}


def _balance(cli: CliState) -> str:
    app_ = cli.app()
    _, wallets = customers.customer_wallets(DEMO_CUSTOMER, uow=app_.uow())
    paid = sum(w.paid_minor for w in wallets if w.currency == "EUR")
    return Money(paid, currency("EUR")).format()
