"""The fakes keep the promises the service tests rely on: transactions and unique indexes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from support.fakes import FakeUnitOfWork
from vouchers.domain.lots import Lot
from vouchers.domain.voucher_types import VoucherType
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import DuplicateError, StorageError, VoucherNotFoundError
from vouchers.services.ports import NewVouchers

MakeType = Callable[..., VoucherType]
MakeLot = Callable[..., Lot]
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def chunk(lot: Lot, first: int, *digests: bytes) -> NewVouchers:
    return NewVouchers(
        lot=lot,
        first_number=first,
        state=VoucherState.DRAFT,
        digests=digests,
        ciphertexts=[b"c" * 8] * len(digests),
        tails=["TAIL"] * len(digests),
        lookup_key_id=1,
        data_key_id=1,
        created_at=NOW,
    )


def test_leaving_a_unit_of_work_without_commit_discards_its_changes(uow: FakeUnitOfWork) -> None:
    with uow:
        assert uow.counters.allocate("voucher", 10) == 1

    with uow:
        assert uow.counters.allocate("voucher", 10) == 1
        uow.commit()

    with uow:
        assert uow.counters.allocate("voucher", 1) == 11
    assert uow.committed == 1


def test_changes_are_seen_by_other_units_of_work_only_once_committed(
    uow: FakeUnitOfWork, make_type: MakeType, make_lot: MakeLot
) -> None:
    make_type()
    lot = make_lot(count=2)
    other = FakeUnitOfWork(uow.database)

    with uow:
        uow.vouchers.add_generated(chunk(lot, 1, b"a", b"b"))
        with other:
            assert other.vouchers.count() == 0
        uow.commit()
    with other:
        assert other.vouchers.count() == 2


def test_a_unit_of_work_is_not_entered_twice_nor_used_outside_a_block(uow: FakeUnitOfWork) -> None:
    with uow, pytest.raises(RuntimeError, match="already open"), uow:
        pass
    with pytest.raises(RuntimeError, match="not open"):
        uow.lots.list()


def test_taken_digests_are_refused_by_offset_even_within_one_chunk(
    uow: FakeUnitOfWork, make_type: MakeType, make_lot: MakeLot
) -> None:
    make_type()
    lot = make_lot(count=6)

    with uow:
        assert uow.vouchers.add_generated(chunk(lot, 1, b"a", b"b")) == []
        assert uow.vouchers.add_generated(chunk(lot, 3, b"c", b"a", b"c", b"d")) == [1, 2]
        assert [v.number for v in uow.vouchers.list()] == [1, 2, 3, 6]
        with pytest.raises(StorageError, match="number 6"):
            uow.vouchers.add_generated(chunk(lot, 6, b"e"))


def test_taken_alternative_codes_are_refused(uow: FakeUnitOfWork, make_type: MakeType) -> None:
    make_type("PREM")

    with pytest.raises(DuplicateError):
        make_type("PREM")


def test_resealing_moves_the_digest_in_the_unique_index(
    uow: FakeUnitOfWork, make_type: MakeType, make_lot: MakeLot
) -> None:
    make_type()
    lot = make_lot(count=2)

    with uow:
        uow.vouchers.add_generated(chunk(lot, 1, b"a", b"b"))
        uow.vouchers.reseal([(1, b"x", 2, b"new", 2)])
        assert uow.vouchers.find_by_digests([b"a"]) is None
        assert uow.vouchers.find_by_digests([b"x"]) == uow.vouchers.get(1)
        with pytest.raises(StorageError, match="duplicate lookup digest"):
            uow.vouchers.reseal([(2, b"x", 2, b"new", 2)])
        with pytest.raises(VoucherNotFoundError):
            uow.vouchers.get(3)
