"""Voucher type use cases: create, read and list, through fake storage."""

from __future__ import annotations

from datetime import timedelta

import pytest

from support.fakes import FakeClock, FakeUnitOfWork
from vouchers.domain.money import currency
from vouchers.domain.voucher_types import ValueOption, VoucherType
from vouchers.errors import DuplicateError, VoucherTypeNotFoundError
from vouchers.services import voucher_types


def a_type(code: str = "PREM", **fields: object) -> VoucherType:
    values: dict[str, object] = {
        "alternative_code": code,
        "name": "Premium services",
        "currency": currency("EUR"),
        "value_minor": 5000,
    }
    values.update(fields)
    return VoucherType(**values)  # type: ignore[arg-type]


def test_a_new_voucher_type_is_stored_with_an_id_and_who_created_it_when(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    saved = voucher_types.create_voucher_type(a_type(), uow=uow, clock=clock, actor="alice")

    assert saved.id is not None
    assert saved.created_at == clock.now
    assert saved.created_by == "alice"
    assert uow.committed == 1
    assert voucher_types.get_voucher_type(saved.id, uow=uow) == saved


def test_created_at_and_created_by_come_from_the_clock_and_actor_not_the_caller(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    forged = a_type(created_at=clock.now - timedelta(days=400), created_by="mallory")

    saved = voucher_types.create_voucher_type(forged, uow=uow, clock=clock, actor="alice")

    assert (saved.created_at, saved.created_by) == (clock.now, "alice")


def test_a_second_type_with_a_taken_alternative_code_is_refused_and_nothing_changes(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    first = voucher_types.create_voucher_type(a_type(), uow=uow, clock=clock, actor="alice")

    with pytest.raises(DuplicateError, match="PREM"):
        voucher_types.create_voucher_type(
            a_type(name="Another", value_option=ValueOption.VARIABLE, value_minor=None),
            uow=uow,
            clock=clock,
            actor="bob",
        )

    assert uow.committed == 1
    assert voucher_types.list_voucher_types(uow=uow) == [first]


def test_a_type_is_found_by_id_or_by_alternative_code_in_any_case(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    saved = voucher_types.create_voucher_type(a_type(), uow=uow, clock=clock, actor="alice")

    assert voucher_types.get_voucher_type("prem", uow=uow) == saved
    assert voucher_types.get_voucher_type(saved.id or 0, uow=uow) == saved


@pytest.mark.parametrize("ref", ["NOPE", 42])
def test_an_unknown_type_is_not_found(uow: FakeUnitOfWork, ref: int | str) -> None:
    with pytest.raises(VoucherTypeNotFoundError):
        voucher_types.get_voucher_type(ref, uow=uow)


def test_types_are_listed_by_alternative_code(uow: FakeUnitOfWork, clock: FakeClock) -> None:
    for code in ("ZED", "ALPHA", "MID"):
        voucher_types.create_voucher_type(a_type(code), uow=uow, clock=clock, actor="alice")

    listed = voucher_types.list_voucher_types(uow=uow)

    assert [vt.alternative_code for vt in listed] == ["ALPHA", "MID", "ZED"]
