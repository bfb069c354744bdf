"""Small builders for storage tests: a voucher type, a generated lot, the codes in clear."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from vouchers.adapters.db import schema
from vouchers.adapters.keys import CodeVault
from vouchers.bootstrap import App
from vouchers.domain.lifecycle import Process
from vouchers.domain.lots import Lot
from vouchers.domain.money import currency
from vouchers.domain.voucher_types import VoucherType
from vouchers.domain.vouchers import VoucherState
from vouchers.services import lots, processes, voucher_types
from vouchers.services.ports import SealedSecret
from vouchers.services.processes import Selection


def make_type(app: App, code: str = "PREM", **kwargs: object) -> VoucherType:
    fields: dict[str, object] = {
        "alternative_code": code,
        "name": "Premium services",
        "currency": currency("EUR"),
        "value_minor": 5000,
    }
    fields.update(kwargs)
    return voucher_types.create_voucher_type(
        VoucherType(**fields),  # type: ignore[arg-type]
        uow=app.uow(),
        clock=app.clock,
        actor="alice",
    )


def generate(app: App, type_code: str, count: int, **kwargs: object) -> str:
    lot = lots.create_lot(type_code, count=count, uow=app.uow(), clock=app.clock, actor="alice")
    lots.generate_lot(
        lot.alternative_code,
        uow=app.uow(),
        vault=app.vault,
        clock=app.clock,
        actor="alice",
        **kwargs,
    )  # type: ignore[arg-type]
    return lot.alternative_code


def all_secrets(app: App) -> list[SealedSecret]:
    with app.uow() as uow:
        return uow.vouchers.secrets_not_under(-1, -1, after=0, limit=10**7)


def clear_codes(app: App, vault: CodeVault | None = None) -> dict[int, str]:
    vault = vault or app.vault
    return {s.number: vault.open(s.number, s.ciphertext, s.data_key_id) for s in all_secrets(app)}


# -- life cycle --------------------------------------------------------------------------
# Helpers for the life-cycle tests. The SQL shortcuts put vouchers straight into a state
# or a validity window: faster than walking each voucher through the services, and the
# only way into states whose process is not built yet (used, by redemption).

CHECKER = "bob"
"""A user other than the generator ("alice"), so the four-eyes rule lets them check lots."""


def generate_lot_with(app: App, type_code: str, count: int, **lot_fields: object) -> str:
    """Create a lot with explicit lot fields (dates, values, …) and generate it as alice."""
    lot: Lot = lots.create_lot(
        type_code,
        count=count,
        uow=app.uow(),
        clock=app.clock,
        actor="alice",
        **lot_fields,  # type: ignore[arg-type]
    )
    lots.generate_lot(
        lot.alternative_code, uow=app.uow(), vault=app.vault, clock=app.clock, actor="alice"
    )
    return lot.alternative_code


def apply(
    app: App,
    process: Process,
    selection: Selection,
    *,
    actor: str = CHECKER,
    four_eyes: bool = True,
    run_id: int | None = None,
) -> int:
    """Run a bulk process now; return how many vouchers it moved."""
    outcome = processes.run_process(
        process,
        selection,
        uow=app.uow(),
        clock=app.clock,
        actor=actor,
        four_eyes=four_eyes,
        run_id=run_id,
    )
    return outcome.count


def activate_lot(app: App, lot_code: str, *, actor: str = CHECKER) -> None:
    """Accept and activate every voucher of a lot through the services."""
    apply(app, Process.ACCEPT, Selection(lot=lot_code), actor=actor)
    apply(app, Process.ACTIVATE, Selection(lot=lot_code), actor=actor)


def set_voucher_fields(app: App, *numbers: int, **values: object) -> None:
    """UPDATE vouchers directly (all of them when no number is given)."""
    table = schema.vouchers
    statement = update(table).values(
        {k: v.value if isinstance(v, VoucherState) else v for k, v in values.items()}
    )
    if numbers:
        statement = statement.where(table.c.number.in_(numbers))
    with app.engine.begin() as connection:
        connection.execute(statement)


def voucher_rows(app: App) -> dict[int, dict[str, Any]]:
    """Every voucher row as stored, secret columns included, by number."""
    table = schema.vouchers
    with app.engine.connect() as connection:
        rows = connection.execute(select(table).order_by(table.c.number)).mappings()
        return {row["number"]: dict(row) for row in rows}


def history_rows(app: App, *, process: str | None = None) -> list[dict[str, Any]]:
    """Rows of voucher_history in insertion order, optionally of one process."""
    table = schema.voucher_history
    query = select(table).order_by(table.c.id)
    if process is not None:
        query = query.where(table.c.process == process)
    with app.engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]
