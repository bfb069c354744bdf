"""Fixtures for service tests: fake storage, a real vault, a fixed clock, and builders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from support.fakes import FakeClock, FakeUnitOfWork
from vouchers.adapters.keys import CodeVault, KeyRing
from vouchers.domain.lots import Lot
from vouchers.domain.money import currency
from vouchers.domain.voucher_types import VoucherType
from vouchers.services import lots, voucher_types

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

MakeType = Callable[..., VoucherType]
MakeLot = Callable[..., Lot]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing.generate()


@pytest.fixture
def vault(ring: KeyRing) -> CodeVault:
    return CodeVault(ring)


@pytest.fixture
def make_type(uow: FakeUnitOfWork, clock: FakeClock) -> MakeType:
    """Store a voucher type: a fixed EUR 50.00 'PREM' unless told otherwise."""

    def make(code: str = "PREM", **fields: Any) -> VoucherType:
        values: dict[str, Any] = {
            "alternative_code": code,
            "name": "Premium services",
            "currency": currency("EUR"),
            "value_minor": 5000,
        }
        values.update(fields)
        return voucher_types.create_voucher_type(
            VoucherType(**values), uow=uow, clock=clock, actor="alice"
        )

    return make


@pytest.fixture
def make_lot(uow: FakeUnitOfWork, clock: FakeClock) -> MakeLot:
    """Create a draft lot of a stored type."""

    def make(type_ref: int | str = "PREM", count: int = 10, **options: Any) -> Lot:
        return lots.create_lot(
            type_ref, count=count, uow=uow, clock=clock, actor="alice", **options
        )

    return make
