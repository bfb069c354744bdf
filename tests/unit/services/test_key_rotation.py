"""Key rotation: re-sealing every secret under new keys, in batches, while lookups keep working.

(Named ``test_key_rotation`` rather than ``test_keys``: ``tests/unit/adapters/test_keys.py``
exists, and test modules outside packages need distinct base names.)
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from support.fakes import FakeClock, FakeUnitOfWork
from vouchers.adapters.keys import CodeVault, KeyRing
from vouchers.domain.lots import Lot
from vouchers.domain.voucher_types import VoucherType
from vouchers.errors import KeyMaterialError, VoucherNotFoundError
from vouchers.services import lots, vouchers
from vouchers.services.keys import rotate_keys

MakeType = Callable[..., VoucherType]
MakeLot = Callable[..., Lot]


class Crash(Exception):
    pass


@pytest.fixture
def codes(
    make_type: MakeType, make_lot: MakeLot, uow: FakeUnitOfWork, vault: CodeVault, clock: FakeClock
) -> dict[int, str]:
    """25 vouchers sealed under the first keys (id 1); their codes by number."""
    make_type()
    lots.generate_lot(
        make_lot(count=25).alternative_code, uow=uow, vault=vault, clock=clock, actor="maker"
    )
    return uow.database.clear_codes(vault)


@pytest.fixture
def new_ring(ring: KeyRing) -> KeyRing:
    """The ring with a new current key of each kind (id 2); the old keys are still live."""
    return ring.with_new_keys()


def find(code: str, uow: FakeUnitOfWork, vault: CodeVault, clock: FakeClock) -> int:
    return vouchers.find_voucher_by_code(code, uow=uow, vault=vault, clock=clock).voucher.number


def test_rotation_reseals_every_secret_in_batches_under_the_new_keys_only(
    codes: dict[int, str], uow: FakeUnitOfWork, new_ring: KeyRing, clock: FakeClock
) -> None:
    rotating = CodeVault(new_ring)
    committed = uow.committed
    seen: list[tuple[int, int]] = []

    done = rotate_keys(
        uow=uow, vault=rotating, batch_size=10, progress=lambda d, t: seen.append((d, t))
    )

    assert done == 25
    assert seen == [(10, 10), (20, 20), (25, 25)]
    assert uow.committed == committed + 3
    only_new = CodeVault(new_ring.only_current())
    assert uow.database.clear_codes(only_new) == codes
    for row in uow.database.rows():
        assert (row.lookup_key_id, row.data_key_id) == (2, 2)
        assert row.digest == only_new.digest(codes[row.voucher.number])
    for number, code in codes.items():
        assert find(code, uow, only_new, clock) == number


def test_after_rotation_the_old_keys_open_and_find_nothing(
    codes: dict[int, str],
    uow: FakeUnitOfWork,
    vault: CodeVault,
    new_ring: KeyRing,
    clock: FakeClock,
) -> None:
    rotate_keys(uow=uow, vault=CodeVault(new_ring))

    row = uow.database.rows()[0]
    with pytest.raises(KeyMaterialError, match="not in the key ring"):
        vault.open(row.voucher.number, row.ciphertext or b"", row.data_key_id)
    with pytest.raises(VoucherNotFoundError):
        find(codes[1], uow, vault, clock)


def test_a_second_rotation_has_nothing_left_to_do(
    codes: dict[int, str], uow: FakeUnitOfWork, new_ring: KeyRing
) -> None:
    rotating = CodeVault(new_ring)
    rotate_keys(uow=uow, vault=rotating, batch_size=7)
    committed, rows = uow.committed, uow.database.rows()

    assert rotate_keys(uow=uow, vault=rotating, batch_size=7) == 0
    assert (uow.committed, uow.database.rows()) == (committed, rows)


def test_every_voucher_is_found_by_its_code_while_rotation_is_half_done(
    codes: dict[int, str], uow: FakeUnitOfWork, new_ring: KeyRing, clock: FakeClock
) -> None:
    # Given a rotation that stopped after its first batch of 10
    rotating = CodeVault(new_ring)

    def stop_after_first_batch(done: int, total: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        rotate_keys(uow=uow, vault=rotating, batch_size=10, progress=stop_after_first_batch)
    key_ids = [row.data_key_id for row in uow.database.rows()]
    assert key_ids == [2] * 10 + [1] * 15

    # Then every code is found with the live keys, whichever key sealed it
    for number, code in codes.items():
        assert find(code.lower(), uow, rotating, clock) == number
    assert uow.database.clear_codes(rotating) == codes

    # And running it again finishes the rest
    assert rotate_keys(uow=uow, vault=rotating, batch_size=10) == 15
    assert uow.database.clear_codes(CodeVault(new_ring.only_current())) == codes


def test_a_secret_that_does_not_decrypt_stops_rotation_and_its_batch_is_not_written(
    codes: dict[int, str], uow: FakeUnitOfWork, new_ring: KeyRing
) -> None:
    # Given voucher 14's ciphertext is damaged
    damaged = bytearray(uow.database.tables.vouchers[14].ciphertext or b"")
    damaged[-1] ^= 1
    uow.database.put(14, ciphertext=bytes(damaged))

    # When rotation runs in batches of 10
    with pytest.raises(KeyMaterialError, match="voucher 14"):
        rotate_keys(uow=uow, vault=CodeVault(new_ring), batch_size=10)

    # Then the first batch was re-sealed and the batch holding voucher 14 was not
    assert [row.data_key_id for row in uow.database.rows()] == [2] * 10 + [1] * 15
