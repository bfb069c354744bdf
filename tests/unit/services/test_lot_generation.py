"""Generating a lot's vouchers: numbering, chunks, posting, resumption and concurrent runs."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.fakes import FakeClock, FakeUnitOfWork
from vouchers.adapters.keys import CodeVault, KeyRing
from vouchers.domain.lots import Lot, LotState
from vouchers.domain.money import currency
from vouchers.domain.voucher_types import VoucherType
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import ConflictError, InvalidTransitionError, LotNotFoundError
from vouchers.services import lots, voucher_types

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
MakeType = Callable[..., VoucherType]
MakeLot = Callable[..., Lot]
T = TypeVar("T")


class Crash(Exception):
    """Stands for anything that stops a run between two chunks (a kill, a lost connection)."""


def generate(
    ref: str, uow: FakeUnitOfWork, vault: CodeVault, clock: FakeClock, **kw: object
) -> Lot:
    return lots.generate_lot(ref, uow=uow, vault=vault, clock=clock, actor="maker", **kw)  # type: ignore[arg-type]


def numbers_of(uow: FakeUnitOfWork, lot: Lot) -> list[int]:
    return [r.voucher.number for r in uow.database.rows() if r.voucher.lot_id == lot.id]


def test_every_voucher_is_numbered_contiguously_from_the_lots_reserved_first_number(
    make_type: MakeType,
    make_lot: MakeLot,
    uow: FakeUnitOfWork,
    vault: CodeVault,
    clock: FakeClock,
) -> None:
    voucher_type = make_type(extra_value_minor=100)
    generate(make_lot(count=7).alternative_code, uow, vault, clock)
    lot = make_lot(count=45)

    done = generate(lot.alternative_code, uow, vault, clock, chunk_size=10)

    assert done.first_number == 8
    assert (done.state, done.generated_count, done.posted_at) == (LotState.POSTED, 45, clock.now)
    assert numbers_of(uow, lot) == list(range(8, 53))
    codes = uow.database.clear_codes(vault)
    for row in uow.database.rows()[7:]:
        code, voucher = codes[row.voucher.number], row.voucher
        assert voucher_type.code_format.is_well_formed(code)
        assert (row.digest, voucher.code_tail) == (vault.digest(code), code[-4:])
        assert (row.lookup_key_id, row.data_key_id) == (vault.lookup_key_id, vault.data_key_id)
        assert voucher.state is VoucherState.DRAFT
        assert (voucher.lot_id, voucher.type_id) == (lot.id, voucher_type.id)
        assert (voucher.value_minor, voucher.extra_value_minor) == (5000, 100)
        assert voucher.currency == "EUR"
        assert (voucher.effective_at, voucher.expires_at) == (lot.effective_at, lot.expires_at)
    assert len(set(codes.values())) == 52


def test_a_lot_is_posted_only_with_its_last_chunk_and_progress_counts_every_chunk(
    make_type: MakeType, make_lot: MakeLot, uow: FakeUnitOfWork, vault: CodeVault
) -> None:
    make_type()
    lot = make_lot(count=45)
    clock = FakeClock(NOW, tick=timedelta(minutes=1))
    seen: list[tuple[int, int, LotState]] = []

    def progress(done: int, total: int) -> None:
        seen.append(
            (
                done,
                total,
                lots.get_lot(lot.alternative_code, uow=FakeUnitOfWork(uow.database)).state,
            )
        )

    done = generate(lot.alternative_code, uow, vault, clock, chunk_size=10, progress=progress)

    draft, posted = LotState.DRAFT, LotState.POSTED
    assert seen == [
        (10, 45, draft),
        (20, 45, draft),
        (30, 45, draft),
        (40, 45, draft),
        (45, 45, posted),
    ]
    last_chunk_written_at = uow.database.rows()[-1].voucher.created_at
    assert done.posted_at == last_chunk_written_at
    assert uow.database.rows()[0].voucher.created_at < last_chunk_written_at


def test_a_crash_after_the_second_chunk_leaves_a_draft_that_a_second_run_finishes_without_gap(
    make_type: MakeType,
    make_lot: MakeLot,
    uow: FakeUnitOfWork,
    vault: CodeVault,
    clock: FakeClock,
) -> None:
    make_type()
    lot = make_lot(count=45)

    def crash_at_20(done: int, total: int) -> None:
        if done == 20:
            raise Crash

    with pytest.raises(Crash):
        generate(lot.alternative_code, uow, vault, clock, chunk_size=10, progress=crash_at_20)
    stopped = lots.get_lot(lot.alternative_code, uow=uow)
    assert (stopped.state, stopped.generated_count, stopped.first_number) == (LotState.DRAFT, 20, 1)
    assert numbers_of(uow, lot) == list(range(1, 21))

    seen: list[int] = []
    done = generate(
        lot.alternative_code, uow, vault, clock, chunk_size=7, progress=lambda d, t: seen.append(d)
    )

    assert seen == [27, 34, 41, 45]
    assert (done.state, done.generated_count, done.first_number) == (LotState.POSTED, 45, 1)
    assert numbers_of(uow, lot) == list(range(1, 46))
    assert len(set(uow.database.clear_codes(vault).values())) == 45
    # The resumed run reserved no second block: the next lot continues right after this one.
    assert generate(make_lot(count=2).alternative_code, uow, vault, clock).first_number == 46


def test_generating_a_posted_lot_again_is_refused_and_changes_nothing(
    make_type: MakeType,
    make_lot: MakeLot,
    uow: FakeUnitOfWork,
    vault: CodeVault,
    clock: FakeClock,
) -> None:
    make_type()
    lot = make_lot(count=3)
    generate(lot.alternative_code, uow, vault, clock)
    committed, rows = uow.committed, uow.database.rows()

    with pytest.raises(InvalidTransitionError, match="posted"):
        generate(lot.alternative_code, uow, vault, clock)

    assert (uow.committed, uow.database.rows()) == (committed, rows)


def test_generating_an_unknown_lot_is_refused(
    uow: FakeUnitOfWork, vault: CodeVault, clock: FakeClock
) -> None:
    with pytest.raises(LotNotFoundError):
        generate("NOPE-000001", uow, vault, clock)


def test_a_type_that_auto_activates_generates_activated_vouchers(
    make_type: MakeType,
    make_lot: MakeLot,
    uow: FakeUnitOfWork,
    vault: CodeVault,
    clock: FakeClock,
) -> None:
    make_type(auto_activate=True)

    generate(make_lot(count=12).alternative_code, uow, vault, clock, chunk_size=5)

    assert {row.voucher.state for row in uow.database.rows()} == {VoucherState.ACTIVATED}


def test_a_run_that_finds_the_lot_advanced_by_another_run_stops_with_a_conflict(
    make_type: MakeType,
    make_lot: MakeLot,
    uow: FakeUnitOfWork,
    vault: CodeVault,
    clock: FakeClock,
) -> None:
    # Given run A has written its first chunk, and run B, started meanwhile on another
    # connection, writes the second chunk and then dies
    make_type()
    lot = make_lot(count=45)
    other = FakeUnitOfWork(uow.database)

    def run_b_after_first_chunk(done: int, total: int) -> None:
        if done == 10:
            with pytest.raises(Crash):
                generate(lot.alternative_code, other, vault, clock, chunk_size=10, progress=crash)

    def crash(done: int, total: int) -> None:
        raise Crash

    # When run A goes on to write what it believes is the second chunk
    with pytest.raises(ConflictError, match="another run"):
        generate(
            lot.alternative_code, uow, vault, clock, chunk_size=10, progress=run_b_after_first_chunk
        )

    # Then A wrote nothing twice, and a later run completes the lot without a gap
    assert lots.get_lot(lot.alternative_code, uow=uow).generated_count == 20
    assert numbers_of(uow, lot) == list(range(1, 21))
    assert generate(lot.alternative_code, uow, vault, clock).state is LotState.POSTED
    assert numbers_of(uow, lot) == list(range(1, 46))


class CountingPool(ThreadPoolExecutor):
    """A thread pool that counts the work handed to it (threads run closures, unlike processes)."""

    submitted = 0

    def submit(self, fn: Callable[..., T], /, *args: object, **kwargs: object) -> Future[T]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def test_sealing_in_a_thread_pool_gives_the_same_lot_as_sealing_inline(
    make_type: MakeType,
    make_lot: MakeLot,
    uow: FakeUnitOfWork,
    vault: CodeVault,
    clock: FakeClock,
) -> None:
    make_type()
    inline, pooled = make_lot(count=95), make_lot(count=95)
    inline_seen: list[int] = []
    pooled_seen: list[int] = []

    generate(
        inline.alternative_code,
        uow,
        vault,
        clock,
        chunk_size=10,
        progress=lambda d, t: inline_seen.append(d),
    )
    with CountingPool(max_workers=3) as pool:
        done = generate(
            pooled.alternative_code,
            uow,
            vault,
            clock,
            chunk_size=10,
            executor=pool,
            progress=lambda d, t: pooled_seen.append(d),
        )

    assert pool.submitted == 10
    assert pooled_seen == inline_seen == [10, 20, 30, 40, 50, 60, 70, 80, 90, 95]
    assert (done.state, done.generated_count, done.first_number) == (LotState.POSTED, 95, 96)
    assert numbers_of(uow, pooled) == [n + 95 for n in numbers_of(uow, inline)]
    codes = uow.database.clear_codes(vault)
    assert len(set(codes.values())) == 190
    for row in uow.database.rows():
        assert row.voucher.code_tail == codes[row.voucher.number][-4:]


def _chunks(count: int, chunk_size: int) -> list[int]:
    return [min(start + chunk_size, count) for start in range(0, count, chunk_size)]


_VAULT = CodeVault(KeyRing.generate())


@settings(max_examples=40, deadline=None)
@given(data=st.data(), count=st.integers(min_value=1, max_value=30))
def test_any_chunk_size_gives_the_same_numbering_and_count(data: st.DataObject, count: int) -> None:
    chunk_size = data.draw(st.integers(min_value=1, max_value=count), label="chunk_size")
    uow, clock = FakeUnitOfWork(), FakeClock(NOW)
    voucher_types.create_voucher_type(
        VoucherType("PREM", "Premium", currency("EUR"), value_minor=500),
        uow=uow,
        clock=clock,
        actor="a",
    )
    lot = lots.create_lot("PREM", count=count, uow=uow, clock=clock, actor="a")
    seen: list[int] = []

    done = generate(
        lot.alternative_code,
        uow,
        _VAULT,
        clock,
        chunk_size=chunk_size,
        progress=lambda d, t: seen.append(d),
    )

    assert (done.state, done.generated_count) == (LotState.POSTED, count)
    assert numbers_of(uow, lot) == list(range(1, count + 1))
    assert seen == _chunks(count, chunk_size)
    # One transaction per type, lot, number reservation and chunk.
    assert uow.committed == 3 + len(seen)
