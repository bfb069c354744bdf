"""In-memory fakes of the service ports: a unit of work over plain dicts, and a clock.

``FakeDatabase`` holds the committed state. Each ``with FakeUnitOfWork(database):`` copies
it, the repositories work on the copy, ``commit()`` swaps the copy in, and leaving without
``commit()`` drops it: rollback is real, so a service that forgets to commit, or raises
half-way, leaves nothing behind. Several units of work over one database act as
concurrent connections (last commit wins; there is no locking).

The repositories enforce what the schema enforces: unique alternative codes
(``DuplicateError``), unique lookup digests (``add_generated`` skips taken digests and
reports their offsets, as ``ON CONFLICT (lookup_digest) DO NOTHING`` does, also for a
digest repeated within one chunk), unique voucher numbers (a driver error, so
``StorageError``), UTC-aware timestamps (``ValueError``), the not-found errors of ``get``,
and the two seeded counters.

The vault is not faked: ``vouchers.adapters.keys.CodeVault`` is pure CPU and fast, and a
fake would let a test pass with digests or ciphertexts the real one never produces.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar

from vouchers.domain.lots import Lot, LotState
from vouchers.domain.voucher_types import VoucherType
from vouchers.domain.vouchers import Voucher
from vouchers.errors import (
    DuplicateError,
    LotNotFoundError,
    StorageError,
    VoucherNotFoundError,
    VoucherTypeNotFoundError,
)
from vouchers.services.ports import CodeVault, NewVouchers, SealedSecret


@dataclass(frozen=True)
class StoredVoucher:
    """A row of the vouchers table: what may be shown, plus the secret material."""

    voucher: Voucher
    digest: bytes | None
    lookup_key_id: int
    ciphertext: bytes | None
    data_key_id: int


@dataclass
class _Tables:
    """One snapshot of every table. Values are frozen, so copying the dicts isolates it."""

    voucher_types: dict[int, VoucherType] = field(default_factory=dict)
    lots: dict[int, Lot] = field(default_factory=dict)
    vouchers: dict[int, StoredVoucher] = field(default_factory=dict)
    digests: dict[bytes, int] = field(default_factory=dict)  # the unique index: digest → number
    # Seeded by the initial migration.
    counters: dict[str, int] = field(default_factory=lambda: {"voucher": 1, "lot": 1})
    next_ids: dict[str, int] = field(default_factory=lambda: {"voucher_types": 1, "lots": 1})

    def copy(self) -> _Tables:
        return _Tables(**{f.name: dict(getattr(self, f.name)) for f in dataclasses.fields(self)})

    def new_id(self, table: str) -> int:
        new = self.next_ids[table]
        self.next_ids[table] = new + 1
        return new


class FakeDatabase:
    """The committed state, shared by every unit of work built on it; and test helpers."""

    def __init__(self) -> None:
        self.tables = _Tables()

    def rows(self) -> list[StoredVoucher]:
        """Committed voucher rows in number order."""
        return [self.tables.vouchers[n] for n in sorted(self.tables.vouchers)]

    def clear_codes(self, vault: CodeVault) -> dict[int, str]:
        """Every committed voucher's code, opened with ``vault``, by number."""
        return {
            row.voucher.number: vault.open(row.voucher.number, row.ciphertext, row.data_key_id)
            for row in self.rows()
            if row.ciphertext is not None
        }

    def put(self, number: int, **changes: Any) -> None:
        """Change a committed voucher row behind the services' back (states they cannot set yet,
        corrupt ciphertexts). ``changes`` name fields of ``Voucher`` or of ``StoredVoucher``."""
        if "digest" in changes:
            raise ValueError("the digest index is kept by the repository; do not put digests")
        row = self.tables.vouchers[number]
        row_fields = {f.name for f in dataclasses.fields(StoredVoucher)}
        voucher = dataclasses.replace(
            row.voucher, **{k: v for k, v in changes.items() if k not in row_fields}
        )
        row_changes = {k: v for k, v in changes.items() if k in row_fields}
        self.tables.vouchers[number] = dataclasses.replace(row, voucher=voucher, **row_changes)


def _utc_aware(*values: datetime | None) -> None:
    """The schema's timestamp type refuses naive datetimes (SQLAlchemy wraps this ValueError)."""
    if any(value is not None and value.tzinfo is None for value in values):
        raise ValueError("naive datetime given to the database; use UTC-aware times")


_Named = TypeVar("_Named", VoucherType, Lot)


def _find(table: dict[int, _Named], ref: int | str) -> _Named | None:
    """By id, or by alternative code compared upper-case, as the SQL ``get`` does."""
    if isinstance(ref, int):
        return table.get(ref)
    return next((row for row in table.values() if row.alternative_code == ref.upper()), None)


class FakeVoucherTypeRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def add(self, voucher_type: VoucherType) -> VoucherType:
        _utc_aware(voucher_type.created_at)
        code = voucher_type.alternative_code
        if any(vt.alternative_code == code for vt in self._t.voucher_types.values()):
            raise DuplicateError(f"a voucher type with alternative code {code} exists")
        new_id = self._t.new_id("voucher_types")
        self._t.voucher_types[new_id] = dataclasses.replace(voucher_type, id=new_id)
        return self.get(new_id)

    def get(self, ref: int | str) -> VoucherType:
        found = _find(self._t.voucher_types, ref)
        if found is None:
            raise VoucherTypeNotFoundError(f"no voucher type {ref!r}")
        return found

    def list(self) -> list[VoucherType]:
        return sorted(self._t.voucher_types.values(), key=lambda vt: vt.alternative_code)


class FakeLotRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def add(self, lot: Lot) -> Lot:
        _utc_aware(lot.effective_at, lot.expires_at, lot.created_at)
        code = lot.alternative_code
        if any(other.alternative_code == code for other in self._t.lots.values()):
            raise DuplicateError(f"a lot with alternative code {code} exists")
        new_id = self._t.new_id("lots")
        # Like the SQL insert: numbers are reserved and posting happens later, never on add.
        type_code = self._t.voucher_types[lot.type_id].alternative_code
        self._t.lots[new_id] = dataclasses.replace(
            lot, id=new_id, first_number=None, posted_at=None, type_code=type_code
        )
        return self.get(new_id)

    def get(self, ref: int | str, *, for_update: bool = False) -> Lot:
        found = _find(self._t.lots, ref)
        if found is None:
            raise LotNotFoundError(f"no lot {ref!r}")
        return found

    def list(self, *, type_id: int | None = None) -> list[Lot]:
        return [
            self._t.lots[i]
            for i in sorted(self._t.lots, reverse=True)
            if type_id is None or self._t.lots[i].type_id == type_id
        ]

    def total_count(self, *, type_id: int) -> int:
        return sum(lot.count for lot in self._t.lots.values() if lot.type_id == type_id)

    # An UPDATE that matches no row changes nothing and raises nothing: so do these two.
    def assign_numbers(self, lot_id: int, first_number: int, *, by: str) -> None:
        if (lot := self._t.lots.get(lot_id)) is not None:
            self._t.lots[lot_id] = dataclasses.replace(
                lot, first_number=first_number, generated_by=by
            )

    def record_generated(self, lot_id: int, count: int, *, posted_at: datetime | None) -> None:
        _utc_aware(posted_at)
        if (lot := self._t.lots.get(lot_id)) is not None:
            posted: dict[str, Any] = {"state": LotState.POSTED, "posted_at": posted_at}
            self._t.lots[lot_id] = dataclasses.replace(
                lot, generated_count=lot.generated_count + count, **(posted if posted_at else {})
            )


class FakeVoucherRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def add_generated(self, chunk: NewVouchers) -> builtins.list[int]:
        _utc_aware(chunk.created_at)
        lot = chunk.lot
        if lot.id is None:  # NOT NULL lot_id: a driver error
            raise StorageError("vouchers need a stored lot")
        refused = []
        rows = zip(chunk.digests, chunk.ciphertexts, chunk.tails, strict=True)
        for offset, (digest, ciphertext, tail) in enumerate(rows):
            number = chunk.first_number + offset
            if digest in self._t.digests:
                refused.append(offset)
                continue
            if number in self._t.vouchers:
                raise StorageError(f"duplicate voucher number {number}")
            voucher = Voucher(
                number, lot.id, lot.type_id, chunk.state, lot.value_minor, lot.extra_value_minor,
                lot.currency, lot.effective_at, lot.expires_at, tail, chunk.created_at,
            )  # fmt: skip
            self._t.vouchers[number] = StoredVoucher(
                voucher, digest, chunk.lookup_key_id, ciphertext, chunk.data_key_id
            )
            self._t.digests[digest] = number
        return refused

    def get(self, number: int) -> Voucher:
        row = self._t.vouchers.get(number)
        if row is None:
            raise VoucherNotFoundError(f"no voucher number {number}")
        return row.voucher

    def find_by_digests(self, digests: Sequence[bytes]) -> Voucher | None:
        for digest in digests:
            number = self._t.digests.get(digest)
            if number is not None:
                return self._t.vouchers[number].voucher
        return None

    def count(self, *, lot_id: int | None = None) -> int:
        return sum(1 for _ in self._select(lot_id=lot_id))

    def secrets_not_under(
        self, lookup_key_id: int, data_key_id: int, *, after: int, limit: int
    ) -> builtins.list[SealedSecret]:
        found = [
            SealedSecret(row.voucher.number, row.ciphertext, row.data_key_id, row.lookup_key_id)
            for row in self._select(after=after)
            if row.ciphertext is not None
            and (row.lookup_key_id != lookup_key_id or row.data_key_id != data_key_id)
        ]
        return found[:limit]

    def reseal(self, rows: Sequence[tuple[int, bytes, int, bytes, int]]) -> None:
        for number, digest, lookup_key_id, ciphertext, data_key_id in rows:
            row = self._t.vouchers.get(number)
            if row is None:
                continue
            if self._t.digests.get(digest, number) != number:
                raise StorageError(f"duplicate lookup digest for voucher {number}")
            if row.digest is not None:
                del self._t.digests[row.digest]
            self._t.digests[digest] = number
            self._t.vouchers[number] = StoredVoucher(
                row.voucher, digest, lookup_key_id, ciphertext, data_key_id
            )

    def list(self, *, lot_id: int | None = None, after: int = 0, limit: int = 100) -> list[Voucher]:
        return [row.voucher for row in self._select(lot_id=lot_id, after=after)][:limit]

    def _select(self, *, lot_id: int | None = None, after: int = 0) -> builtins.list[StoredVoucher]:
        return [
            self._t.vouchers[n]
            for n in sorted(self._t.vouchers)
            if n > after and (lot_id is None or self._t.vouchers[n].voucher.lot_id == lot_id)
        ]


class FakeCounterRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def allocate(self, name: str, count: int) -> int:
        if name not in self._t.counters:
            raise StorageError(f"counter {name!r} is missing; run 'vouchers db upgrade'")
        first = self._t.counters[name]
        self._t.counters[name] = first + count
        return first


class FakeUnitOfWork:
    """Re-enterable like the SQL one: each ``with`` block is one transaction on a copy."""

    def __init__(self, database: FakeDatabase | None = None) -> None:
        self.database = database or FakeDatabase()
        self.committed = 0
        self._tables: _Tables | None = None

    def __enter__(self) -> Self:
        if self._tables is not None:
            raise RuntimeError("this unit of work is already open")
        self._tables = self.database.tables.copy()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._tables = None  # whatever was not committed is dropped

    def commit(self) -> None:
        self.database.tables = self._open()
        self.committed += 1
        # Like a connection after COMMIT: later statements run in a new transaction.
        self._tables = self.database.tables.copy()

    def _open(self) -> _Tables:
        if self._tables is None:
            raise RuntimeError("the unit of work is not open")
        return self._tables

    @property
    def voucher_types(self) -> FakeVoucherTypeRepository:
        return FakeVoucherTypeRepository(self._open())

    @property
    def lots(self) -> FakeLotRepository:
        return FakeLotRepository(self._open())

    @property
    def vouchers(self) -> FakeVoucherRepository:
        return FakeVoucherRepository(self._open())

    @property
    def counters(self) -> FakeCounterRepository:
        return FakeCounterRepository(self._open())


class FakeClock:
    """A clock that stands still unless told to move (``tick`` moves it on every reading)."""

    def __init__(self, now: datetime, *, tick: timedelta = timedelta(0)) -> None:
        self.now = now
        self.tick = tick

    def __call__(self) -> datetime:
        now = self.now
        self.now += self.tick
        return now

    def advance(self, delta: timedelta) -> None:
        self.now += delta
