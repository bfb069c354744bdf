"""The fakes keep the promises the service tests rely on: transactions and unique indexes."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from support.fakes import FakeUnitOfWork
from vouchers.domain.customers import Customer
from vouchers.domain.ledger import Account, EntryKind, Posting, Wallet
from vouchers.domain.lots import Lot
from vouchers.domain.redemptions import Channel, Credit, Redemption
from vouchers.domain.voucher_types import VoucherType
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import (
    CustomerNotFoundError,
    DuplicateError,
    InsufficientFundsError,
    RedemptionNotFoundError,
    StorageError,
    VoucherNotFoundError,
)
from vouchers.services.ports import HistoryEntry, JournalEntry, NewVouchers, StoredResult

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


# -- the redemption repositories -----------------------------------------------------------------


def credit(customer_id: int, paid: int, bonus: int = 0) -> JournalEntry:
    postings = [
        Posting(Account.VOUCHER_FLOAT, -(paid + bonus), "EUR"),
        Posting(Account.WALLET_PAID, paid, "EUR", customer_id),
    ]
    if bonus:
        postings.append(Posting(Account.WALLET_BONUS, bonus, "EUR", customer_id))
    return JournalEntry(EntryKind.REDEMPTION, tuple(postings), NOW, "test")


def debit(customer_id: int, paid: int) -> JournalEntry:
    postings = (
        Posting(Account.WALLET_PAID, -paid, "EUR", customer_id),
        Posting(Account.SPENDING, paid, "EUR"),
    )
    return JournalEntry(EntryKind.DEBIT, postings, NOW, "test")


def test_wallets_are_created_by_credits_never_go_negative_and_roll_back(
    uow: FakeUnitOfWork,
) -> None:
    with uow:
        c1 = uow.customers.add(Customer("C1", created_at=NOW)).require_id()
        with pytest.raises(InsufficientFundsError):
            uow.ledger.post(debit(c1, 1))  # no wallet yet: nothing to take
        uow.commit()
    with uow:
        uow.ledger.post(credit(c1, 500, 100))
        assert uow.ledger.wallet(c1, "EUR") == Wallet(c1, "EUR", 500, 100)
    assert uow.database.wallet(c1, "EUR") == Wallet(c1, "EUR")  # rolled back

    with uow:
        first = uow.ledger.post(credit(c1, 500, 100))
        with pytest.raises(InsufficientFundsError):
            uow.ledger.post(debit(c1, 501))
        assert [e.id for e in uow.ledger.entries(customer_id=c1)] == [first]  # nothing written
        uow.ledger.post(debit(c1, 500))
        assert uow.ledger.wallets(c1) == [Wallet(c1, "EUR", 0, 100)]
        assert (uow.ledger.unbalanced_entries(), uow.ledger.wallet_mismatches()) == ([], [])
        assert uow.ledger.totals()[("spending", "EUR")] == 500


@pytest.mark.parametrize(
    ("state", "at", "consumed"),
    [
        (VoucherState.ACTIVATED, NOW, True),
        (VoucherState.DRAFT, NOW, False),
        (VoucherState.ACTIVATED, NOW - timedelta(seconds=1), False),  # not yet effective
        (VoucherState.ACTIVATED, NOW + timedelta(days=365), False),  # at its expiry
    ],
)
def test_recording_a_redemption_consumes_only_an_activated_voucher_within_its_dates(
    uow: FakeUnitOfWork,
    make_type: MakeType,
    make_lot: MakeLot,
    state: VoucherState,
    at: datetime,
    consumed: bool,
) -> None:
    make_type()
    lot = make_lot(count=1)
    with uow:
        uow.vouchers.add_generated(chunk(lot, 1, b"a"))
        c1 = uow.customers.add(Customer("C1", created_at=NOW)).require_id()
        uow.commit()
    uow.database.put(1, state=state)
    redemption = Redemption(
        1, c1, lot.type_id, lot.id or 0, Channel.CLI, Credit("EUR", 5000, 0, 0), "voucher", at, "t"
    )
    history = HistoryEntry(1, "state", "redeem", "activated", "used", at, "t")
    before = uow.database.tables.copy()

    with uow:
        stored = uow.redemptions.record(
            redemption, credit(c1, 5000), history, events=[("voucher.redeemed", {"n": 1})]
        )
        uow.commit()

    if not consumed:
        assert stored is None
        assert uow.database.tables == before
        return
    assert stored is not None
    assert stored.redemption == dataclasses.replace(redemption, id=1)
    assert (stored.balance_paid_minor, stored.balance_bonus_minor) == (5000, 0)
    assert uow.database.wallet(c1, "EUR").paid_minor == 5000
    assert uow.database.tables.vouchers[1].voucher.used_by == c1
    assert uow.database.tables.journal[1].redemption_id == 1
    with uow:
        assert uow.events.recent()[0]["payload"] == {"n": 1, "redemption_id": 1}
        assert uow.redemptions.record(redemption, credit(c1, 5000), history) is None  # used
        assert uow.redemptions.mark_reversed(1, at=NOW, by="fin")
        assert not uow.redemptions.mark_reversed(1, at=NOW, by="fin")
        uow.vouchers.restore_used(1, actor="fin", at=NOW, note="refund")
        with pytest.raises(StorageError, match="not used"):
            uow.vouchers.restore_used(1, actor="fin", at=NOW, note="refund")
        with pytest.raises(RedemptionNotFoundError):
            uow.redemptions.get(2)


def test_taken_customer_references_and_idempotency_keys_are_refused(uow: FakeUnitOfWork) -> None:
    stored = StoredResult("redeem", "h", {"n": 1, "events": ["x"]})
    with uow:
        uow.customers.add(Customer("C1", created_at=NOW))
        with pytest.raises(DuplicateError):
            uow.customers.add(Customer("C1", created_at=NOW))
        with pytest.raises(CustomerNotFoundError):
            uow.customers.get("c1")  # compared exactly
        uow.idempotency.add("shop", "k", stored, at=NOW)
        with pytest.raises(DuplicateError):
            uow.idempotency.add("shop", "k", stored, at=NOW)
        uow.idempotency.add("kiosk", "k", stored, at=NOW)  # keys belong to their caller
        assert uow.idempotency.get("shop", "k") == stored
        assert uow.idempotency.get("shop", "other") is None
