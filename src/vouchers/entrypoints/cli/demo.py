"""``vouchers demo``: demo data, then the server on the embedded default — the quick start's
first command.

Demo data: one voucher type for each source document (the CRM's premium services ``PREM``
with a generated lot, listed; the VoIP carrier's ×2 top-up bonus ``VOIPX2``; the forex
broker's deposit voucher ``FXDEP``; the refill coupons ``REFILL``; the ISP's one-hour
internet voucher ``NET1H``), a lot of each, customers ``DEMO-1`` and ``DEMO-2``, and the
refill-coupon story: two coupons of 10 redeemed by ``DEMO-1``, whose balance goes 0 → 20.
A staff user ``admin`` is created with a random password, printed this once, and so is a
portal password for the demo customer.

Then it serves the API on http://127.0.0.1:8000 (``--no-serve`` stops after the data).
Running it again reuses the types, customers and admin, and adds a ``PREM`` lot and two
more refill coupons (20.00 more on the balance).
"""

from __future__ import annotations

import dataclasses
import secrets
from decimal import Decimal
from typing import Annotated

import typer
from rich.table import Table

from vouchers.domain.money import Money, currency
from vouchers.domain.redemptions import Channel
from vouchers.domain.voucher_types import BonusRule, RedemptionRules, VoucherKind, VoucherType
from vouchers.entrypoints.cli import render
from vouchers.entrypoints.cli.context import CliState, console, emit, handled, state
from vouchers.entrypoints.cli.serve import run_server
from vouchers.errors import CustomerNotFoundError, DuplicateError, VoucherTypeNotFoundError
from vouchers.services import access, customers, lots, redemptions, voucher_types, vouchers
from vouchers.services.redemptions import RedemptionRequest

DEMO_TYPE = "PREM"
REFILL_TYPE = "REFILL"
DEMO_CUSTOMER = "DEMO-1"
SECOND_CUSTOMER = "DEMO-2"
ADMIN = "admin"
DEMO_HOST = "127.0.0.1"
DEMO_PORT = 8000


def _seed_types() -> list[tuple[VoucherType, int]]:
    """The other source documents' voucher types, each with the size of its first lot."""
    eur, usd = currency("EUR"), currency("USD")
    note = "Created by 'vouchers demo'."
    return [
        (
            VoucherType(
                alternative_code="VOIPX2",
                name="VoIP top-up bonus ×2 from 50.00",
                currency=eur,
                kind=VoucherKind.TOPUP_BONUS,
                bonus=BonusRule(
                    minimum_activation_minor=Money.of("50.00", eur).minor,
                    multiplier=Decimal(2),
                ),
                auto_activate=True,
                notes=note,
            ),
            5,
        ),
        (
            VoucherType(
                alternative_code="FXDEP",
                name="Forex deposit voucher",
                currency=usd,
                value_minor=Money.of("100.00", usd).minor,
                rules=RedemptionRules(kyc_required=True),
                validity_days=90,
                auto_activate=True,
                notes=note,
            ),
            5,
        ),
        (
            VoucherType(
                alternative_code="NET1H",
                name="Internet access, one hour",
                currency=eur,
                kind=VoucherKind.ACCESS,
                value_minor=Money.of("2.00", eur).minor,
                notes=note,
            ),
            5,
        ),
    ]


def register(app: typer.Typer) -> None:
    """Add the demo command to the root app."""
    app.command("demo")(demo)


def demo(
    ctx: typer.Context,
    count: Annotated[int, typer.Option(min=1, max=1000, help="Vouchers in the demo lot.")] = 10,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API afterwards.")
    ] = True,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to serve on.")] = DEMO_PORT,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Create demo data on the configured database, list it, and serve the API."""
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
        seeded = _seed_lots(cli)
        admin = _admin(cli)
        portal_password = _portal_login(cli) if admin["password"] else None
    rows = [render.voucher(view) for view in found]
    data: dict[str, object] = {
        "home": str(cli.settings.home),
        "database_url": cli.settings.database_url,
        "voucher_type": render.voucher_type(voucher_type),
        "lot": render.lot(lot),
        "vouchers": rows,
        "refill": refill,
        "seed_lots": seeded,
        "admin": admin,
        "portal": {"customer": DEMO_CUSTOMER, "password": portal_password},
        "url": f"http://{DEMO_HOST}:{port}" if serve else None,
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
        for lot_ in seeded:
            console.print(f"lot {lot_['alternative_code']} {lot_['state']}: {lot_['description']}")
        if admin["password"]:
            console.print(
                f"staff login: {ADMIN} / {admin['password']}  (shown this once; "
                "change it with 'vouchers users passwd admin')",
                highlight=False,
            )
        else:
            console.print(f"staff login: {ADMIN} (its password was shown on the first run)")
        if portal_password:
            console.print(
                f"customer portal login: {DEMO_CUSTOMER} / {portal_password}  (shown this once; "
                f"staff reset it with 'vouchers customers set-password {DEMO_CUSTOMER}')",
                highlight=False,
            )
        if data["url"]:
            console.print(
                f"staff console: {data['url']}/console   customer portal: {data['url']}/portal",
                highlight=False,
            )

    emit(data, as_json=as_json, human=human)
    if serve:
        settings = dataclasses.replace(cli.settings, secure_cookies=False)  # plain http
        run_server(settings, host=DEMO_HOST, port=port, workers=1)


def _seed_lots(cli: CliState) -> list[dict[str, object]]:
    """The other documents' types, each with one lot, the first time only."""
    app_, actor = cli.app(), cli.settings.actor
    made = []
    for voucher_type, size in _seed_types():
        try:
            voucher_types.get_voucher_type(voucher_type.alternative_code, uow=app_.uow())
            continue
        except VoucherTypeNotFoundError:
            voucher_types.create_voucher_type(
                voucher_type, uow=app_.uow(), clock=app_.clock, actor=actor
            )
        lot = lots.create_lot(
            voucher_type.alternative_code,
            count=size,
            uow=app_.uow(),
            clock=app_.clock,
            actor=actor,
            description=f"Demo lot: {voucher_type.name}",
        )
        lot = lots.generate_lot(
            lot.alternative_code, uow=app_.uow(), vault=app_.vault, clock=app_.clock, actor=actor
        )
        made.append(render.lot(lot))
    try:
        customers.get_customer(SECOND_CUSTOMER, uow=app_.uow())
    except CustomerNotFoundError:
        customers.create_customer(
            SECOND_CUSTOMER,
            name="Ada (KYC verified)",
            kyc_verified=True,
            uow=app_.uow(),
            clock=app_.clock,
            actor=actor,
        )
    return made


def _admin(cli: CliState) -> dict[str, str | None]:
    """The demo's admin login: made with a random password the first time, else kept."""
    app_ = cli.app()
    password = secrets.token_urlsafe(12)
    try:
        access.create_user(
            ADMIN,
            password,
            roles=["admin"],
            uow=app_.uow(),
            passwords=app_.passwords,
            clock=app_.clock,
            actor=cli.settings.actor,
            display_name="Demo administrator",
        )
    except DuplicateError:
        return {"username": ADMIN, "password": None}
    return {"username": ADMIN, "password": password}


def _portal_login(cli: CliState) -> str:
    """A random portal password for the demo customer (the first run only)."""
    app_ = cli.app()
    password = secrets.token_urlsafe(12)
    customers.set_customer_password(
        DEMO_CUSTOMER,
        password,
        uow=app_.uow(),
        passwords=app_.passwords,
        clock=app_.clock,
        actor=cli.settings.actor,
    )
    return password


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
