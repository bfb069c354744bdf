"""Generating lots on both databases: numbering, sealing, collisions and resumption."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest

from support.factories import clear_codes, generate, make_type
from vouchers.bootstrap import App
from vouchers.domain.codes import DIGITS, CodeFormat
from vouchers.domain.lots import LotState
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import CodeSpaceExhaustedError, InvalidTransitionError
from vouchers.services import lots, vouchers


def test_generating_a_lot_posts_it_with_every_voucher_numbered_in_sequence(app: App) -> None:
    make_type(app)
    code = generate(app, "PREM", 120, chunk_size=50)

    lot = lots.get_lot(code, uow=app.uow())
    assert lot.state is LotState.POSTED
    assert lot.generated_count == 120
    page = vouchers.list_vouchers(uow=app.uow(), clock=app.clock, lot_ref=code, limit=1000)
    assert [v.voucher.number for v in page] == list(range(1, 121))
    assert {v.state for v in page} == {VoucherState.DRAFT}
    assert all(v.voucher.value_minor == 5000 and v.voucher.currency == "EUR" for v in page)


def test_voucher_numbers_are_unique_across_lots_and_types(app: App) -> None:
    make_type(app, "A")
    make_type(app, "B")
    generate(app, "A", 30)
    generate(app, "B", 20)
    numbers = sorted(clear_codes(app))
    assert numbers == list(range(1, 51))


def test_every_code_is_well_formed_distinct_and_found_by_its_digest(app: App) -> None:
    voucher_type = make_type(app)
    generate(app, "PREM", 50)
    codes = clear_codes(app)
    assert len(set(codes.values())) == 50
    for number, code in codes.items():
        assert voucher_type.code_format.is_well_formed(code)
        typed = voucher_type.code_format.display(code).lower()
        found = vouchers.find_voucher_by_code(
            typed, uow=app.uow(), vault=app.vault, clock=app.clock
        )
        assert found.voucher.number == number
        assert found.masked_code is not None
        assert found.masked_code.endswith(code[-4:])


def test_auto_activated_types_generate_activated_vouchers(app: App) -> None:
    make_type(app, auto_activate=True)
    code = generate(app, "PREM", 5)
    page = vouchers.list_vouchers(uow=app.uow(), clock=app.clock, lot_ref=code)
    assert {v.state for v in page} == {VoucherState.ACTIVATED}


def test_generating_a_posted_lot_again_is_refused(app: App) -> None:
    make_type(app)
    code = generate(app, "PREM", 3)
    with pytest.raises(InvalidTransitionError, match="posted"):
        lots.generate_lot(code, uow=app.uow(), vault=app.vault, clock=app.clock, actor="alice")


def test_an_interrupted_generation_leaves_a_draft_lot_and_resumes_where_it_stopped(
    app: App,
) -> None:
    make_type(app)
    lot = lots.create_lot("PREM", count=100, uow=app.uow(), clock=app.clock, actor="alice")

    def crash_after_first_chunk(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        lots.generate_lot(
            lot.alternative_code,
            uow=app.uow(),
            vault=app.vault,
            clock=app.clock,
            actor="alice",
            chunk_size=40,
            progress=crash_after_first_chunk,
        )
    interrupted = lots.get_lot(lot.alternative_code, uow=app.uow())
    assert interrupted.state is LotState.DRAFT
    assert interrupted.generated_count == 40

    done = lots.generate_lot(
        lot.alternative_code,
        uow=app.uow(),
        vault=app.vault,
        clock=app.clock,
        actor="alice",
        chunk_size=40,
    )
    assert done.state is LotState.POSTED
    assert sorted(clear_codes(app)) == list(range(1, 101))


def repeating_source() -> Callable[[int], bytes]:
    """A random source whose second call repeats the first (so a whole chunk collides),
    fresh after that."""
    calls = itertools.count()

    def randbytes(n: int) -> bytes:
        call = next(calls)
        return random.Random(0 if call < 2 else call).randbytes(n)

    return randbytes


def test_codes_that_collide_with_existing_digests_are_drawn_again(app: App) -> None:
    weak = CodeFormat(alphabet=DIGITS, length=8, allow_weak=True)
    make_type(app, code_format=weak)
    generate(app, "PREM", 200)
    source = repeating_source()
    first = generate(app, "PREM", 50, randbytes=source)
    second = generate(app, "PREM", 50, randbytes=source)

    codes = clear_codes(app)
    assert len(codes) == 300
    assert len(set(codes.values())) == 300
    for code in (first, second):
        assert lots.get_lot(code, uow=app.uow()).state is LotState.POSTED


def test_a_lot_that_would_fill_too_much_of_its_code_space_is_refused(app: App) -> None:
    make_type(app, code_format=CodeFormat(alphabet=DIGITS, length=6, allow_weak=True))
    with pytest.raises(CodeSpaceExhaustedError, match="code space"):
        lots.create_lot("PREM", count=20_000, uow=app.uow(), clock=app.clock, actor="alice")


def test_generation_with_worker_processes_seals_the_same_way(app: App) -> None:
    voucher_type = make_type(app)
    lot = lots.create_lot("PREM", count=250, uow=app.uow(), clock=app.clock, actor="alice")
    seen: list[int] = []
    with app.worker_pool() as pool:
        done = lots.generate_lot(
            lot.alternative_code,
            uow=app.uow(),
            vault=app.vault,
            clock=app.clock,
            actor="alice",
            chunk_size=60,
            executor=pool,
            progress=lambda count, total: seen.append(count),
        )
    assert done.state is LotState.POSTED
    assert seen == [60, 120, 180, 240, 250]
    codes = clear_codes(app)
    assert sorted(codes) == list(range(1, 251))
    assert len(set(codes.values())) == 250
    assert all(voucher_type.code_format.is_well_formed(code) for code in codes.values())


def test_amending_a_posted_lot_adds_draft_vouchers_in_a_block_of_their_own(app: App) -> None:
    make_type(app, "A")
    make_type(app, "B")
    code = generate(app, "A", 30)
    generate(app, "B", 10)  # takes the numbers right after the lot's first block
    with pytest.raises(InvalidTransitionError, match="draft"):
        lots.amend_lot(
            lots.create_lot("A", count=5, uow=app.uow(), clock=app.clock, actor="a").id or 0,
            count=5, uow=app.uow(), clock=app.clock, actor="alice",
        )  # fmt: skip

    amended = lots.amend_lot(code, count=20, uow=app.uow(), clock=app.clock, actor="alice")
    assert amended.state is LotState.DRAFT
    assert (amended.count, amended.generated_count) == (50, 30)
    done = lots.generate_lot(
        code, uow=app.uow(), vault=app.vault, clock=app.clock, actor="alice", chunk_size=7
    )

    assert done.state is LotState.POSTED
    assert done.generated_count == 50
    page = vouchers.list_vouchers(uow=app.uow(), clock=app.clock, lot_ref=code, limit=1000)
    numbers = [view.voucher.number for view in page]
    assert numbers == [*range(1, 31), *range(41, 61)]
    assert {view.state for view in page} == {VoucherState.DRAFT}
    codes = clear_codes(app)
    assert len(set(codes.values())) == len(codes) == 60
