"""Generation when drawn codes collide with stored ones: redraws, and giving up cleanly.

Default codes are 16 Crockford symbols, and 32 divides 256, so a chunk of ``n`` codes is
drawn with one ``randbytes(16 * n)`` call, code ``i`` from bytes ``16 * i`` to ``16 * i + 16``;
a redraw of one refused row is one ``randbytes(16)`` call. That lets a test script which
codes repeat.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest

from support.fakes import FakeClock, FakeUnitOfWork, FakeVoucherRepository
from vouchers.adapters.keys import CodeVault
from vouchers.domain.lots import Lot, LotState
from vouchers.domain.voucher_types import VoucherType
from vouchers.errors import CodeSpaceExhaustedError
from vouchers.services import lots
from vouchers.services.ports import NewVouchers

MakeType = Callable[..., VoucherType]
MakeLot = Callable[..., Lot]
SECRET = 16  # bytes of randomness per default code


def scripted(*first_calls: bytes, seed: int) -> Callable[[int], bytes]:
    """A random source that returns ``first_calls`` in turn, then seeded pseudo-random bytes."""
    script: Iterator[bytes] = iter(first_calls)
    rest = random.Random(seed)

    def randbytes(n: int) -> bytes:
        data = next(script, None)
        if data is None:
            return rest.randbytes(n)
        assert len(data) == n, "the test scripted another draw than the service made"
        return data

    return randbytes


@pytest.fixture
def refusals(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """What every add_generated call refused, in call order."""
    seen: list[list[int]] = []
    real = FakeVoucherRepository.add_generated

    def spy(self: FakeVoucherRepository, chunk: NewVouchers) -> list[int]:
        refused = real(self, chunk)
        seen.append(refused)
        return refused

    monkeypatch.setattr(FakeVoucherRepository, "add_generated", spy)
    return seen


def test_rows_whose_codes_are_taken_get_fresh_codes_and_keep_their_numbers(
    make_type: MakeType,
    make_lot: MakeLot,
    uow: FakeUnitOfWork,
    vault: CodeVault,
    clock: FakeClock,
    refusals: list[list[int]],
) -> None:
    # Given lot A holds vouchers 1-5, and lot B's draw repeats A's first and fourth codes
    # (at B's offsets 1 and 4) and its own third code (at offset 5)
    make_type()
    first_draw = random.Random(1).randbytes(5 * SECRET)
    lot_a = make_lot(count=5)
    lots.generate_lot(
        lot_a.alternative_code,
        uow=uow,
        vault=vault,
        clock=clock,
        actor="maker",
        randbytes=scripted(first_draw, seed=2),
    )
    draw = bytearray(random.Random(3).randbytes(6 * SECRET))
    draw[1 * SECRET : 2 * SECRET] = first_draw[0:SECRET]
    draw[4 * SECRET : 5 * SECRET] = first_draw[3 * SECRET : 4 * SECRET]
    draw[5 * SECRET : 6 * SECRET] = draw[2 * SECRET : 3 * SECRET]
    lot_b = make_lot(count=6)

    # When B is generated
    done = lots.generate_lot(
        lot_b.alternative_code,
        uow=uow,
        vault=vault,
        clock=clock,
        actor="maker",
        randbytes=scripted(bytes(draw), seed=4),
    )

    # Then the three rows were refused once, redrawn, and B is complete and numbered 6-11
    assert refusals == [[], [1, 4, 5], [], [], []]
    assert (done.state, done.generated_count) == (LotState.POSTED, 6)
    codes = uow.database.clear_codes(vault)
    assert sorted(codes) == list(range(1, 12))
    assert len(set(codes.values())) == 11
    digests = [row.digest for row in uow.database.rows()]
    assert len(set(digests)) == 11
    assert digests == [vault.digest(codes[n]) for n in range(1, 12)]
    assert all(
        row.voucher.code_tail == codes[row.voucher.number][-4:] for row in uow.database.rows()
    )


def test_a_source_that_only_repeats_used_codes_exhausts_the_code_space_and_commits_nothing(
    make_type: MakeType,
    make_lot: MakeLot,
    uow: FakeUnitOfWork,
    vault: CodeVault,
    clock: FakeClock,
) -> None:
    # Given a stored voucher whose code is the one a stuck source always draws
    def stuck(n: int) -> bytes:
        return bytes(n)

    make_type()
    lots.generate_lot(
        make_lot(count=1).alternative_code,
        uow=uow,
        vault=vault,
        clock=clock,
        actor="maker",
        randbytes=stuck,
    )
    lot = make_lot(count=3)
    before = uow.database.rows()

    # When a lot is generated from that source
    with pytest.raises(CodeSpaceExhaustedError, match="too many codes"):
        lots.generate_lot(
            lot.alternative_code, uow=uow, vault=vault, clock=clock, actor="maker", randbytes=stuck
        )

    # Then no voucher of the chunk is stored and the lot is still an empty draft
    assert uow.database.rows() == before
    stopped = lots.get_lot(lot.alternative_code, uow=uow)
    assert (stopped.state, stopped.generated_count, stopped.first_number) == (LotState.DRAFT, 0, 2)
    # And a run with a working source completes it in the numbers it reserved
    done = lots.generate_lot(lot.alternative_code, uow=uow, vault=vault, clock=clock, actor="maker")
    assert done.state is LotState.POSTED
    assert sorted(uow.database.clear_codes(vault)) == [1, 2, 3, 4]


def test_codes_repeated_within_one_chunk_are_redrawn(
    make_type: MakeType,
    make_lot: MakeLot,
    uow: FakeUnitOfWork,
    vault: CodeVault,
    clock: FakeClock,
    refusals: list[list[int]],
) -> None:
    make_type()
    same = random.Random(5).randbytes(SECRET)

    lots.generate_lot(
        make_lot(count=4).alternative_code,
        uow=uow,
        vault=vault,
        clock=clock,
        actor="maker",
        randbytes=scripted(same * 4, seed=6),
    )

    assert refusals[0] == [1, 2, 3]
    assert len(set(uow.database.clear_codes(vault).values())) == 4
