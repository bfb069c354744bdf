"""Builders for redemption tests: activated vouchers with their codes, customers, calls."""

from __future__ import annotations

from typing import Any

from support.factories import activate_lot, clear_codes, generate_lot_with, make_type
from vouchers.bootstrap import App
from vouchers.domain.redemptions import Channel
from vouchers.services import customers, redemptions, wallets
from vouchers.services.redemptions import RedemptionRequest, RedemptionResult


def issue(
    app: App, type_code: str, count: int, *, lot: dict[str, Any] | None = None, **type_fields: Any
) -> list[str]:
    """A new type (unless it exists), a lot of ``count`` activated vouchers; their codes."""
    with app.uow() as uow:
        exists = any(t.alternative_code == type_code for t in uow.voucher_types.list())
    if not exists:
        make_type(app, type_code, **type_fields)
    before = set(clear_codes(app))
    lot_code = generate_lot_with(app, type_code, count, **(lot or {}))
    activate_lot(app, lot_code)
    codes = clear_codes(app)
    return [codes[n] for n in sorted(set(codes) - before)]


def customer(app: App, ref: str = "C1", **fields: Any) -> None:
    customers.create_customer(ref, uow=app.uow(), clock=app.clock, actor="alice", **fields)


def redeem(app: App, code: str, customer_ref: str = "C1", **fields: Any) -> RedemptionResult:
    fields.setdefault("channel", Channel.CLI)
    return redemptions.redeem_voucher(
        RedemptionRequest(code=code, customer=customer_ref, **fields),
        uow=app.uow(),
        vault=app.vault,
        clock=app.clock,
        actor="api",
    )


def validate(app: App, code: str, customer_ref: str = "C1", **fields: Any) -> RedemptionResult:
    return redemptions.validate_redemption(
        RedemptionRequest(code=code, customer=customer_ref, **fields),
        uow=app.uow(),
        vault=app.vault,
        clock=app.clock,
        actor="api",
    )


def debit(app: App, customer_ref: str, amount: str, currency: str = "EUR", **fields: Any) -> Any:
    return wallets.debit_wallet(
        wallets.DebitRequest(customer=customer_ref, amount=amount, currency=currency, **fields),
        uow=app.uow(),
        clock=app.clock,
        actor="host",
    )


def balance(app: App, customer_ref: str = "C1", currency: str = "EUR") -> tuple[int, int]:
    """(paid, bonus) in minor units."""
    _, found = customers.customer_wallets(customer_ref, uow=app.uow())
    for wallet in found:
        if wallet.currency == currency:
            return wallet.paid_minor, wallet.bonus_minor
    return 0, 0
