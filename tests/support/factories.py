"""Small builders for storage tests: a voucher type, a generated lot, the codes in clear."""

from __future__ import annotations

from vouchers.adapters.keys import CodeVault
from vouchers.bootstrap import App
from vouchers.domain.money import currency
from vouchers.domain.voucher_types import VoucherType
from vouchers.services import lots, voucher_types
from vouchers.services.ports import SealedSecret


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
