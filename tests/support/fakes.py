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

The life-cycle repositories do what ``transitions.py``, ``definitions.py`` and ``runs.py``
do in SQL: a transition moves every voucher matching the criteria (its state *as of
now*, expiry derived) and writes one history row each whose ``from_value`` is that
derived state; purging wipes digest, ciphertext, key ids and tail; a modification writes
one history row per changed field (old timestamps as ISO 8601 text, where SQL writes its
database's cast); ``set_active`` leaves at most one definition active, and a definition's
code is stored as given but looked up upper-cased; run criteria make a JSON round trip.

The redemption repositories do what ``customers.py``, ``ledger.py``, ``redemptions.py``
and ``safeguards.py`` do in SQL: unique customer references and idempotency keys
(``DuplicateError``), the not-found errors of ``get``; a journal entry's wallet postings
move the balances, a credit creating the wallet and anything that takes value out of a
missing wallet, or below zero, raising ``InsufficientFundsError`` (and, as documented for
``post``, writing nothing); ``record`` consumes the voucher only when it is activated and
within its dates at ``redeemed_at`` (else None, writing nothing), then writes the
redemption, its entry (with the new redemption id), the history row and the events (each
payload given that id); idempotent results and event payloads make a JSON round trip.

The access repositories do what ``access.py`` does in SQL: unique usernames, key names and
key ids (``DuplicateError``), the not-found errors of ``get``, a key's ``customer_ref`` read
from the customers table, and a revocation that only ever happens once.

The vault is not faked: ``vouchers.adapters.keys.CodeVault`` is pure CPU and fast, and a
fake would let a test pass with digests or ciphertexts the real one never produces.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar

from vouchers.domain.access import ApiKey, PrincipalKind, Session, StaffUser
from vouchers.domain.attempts import AttemptKind, Lockout, Subject
from vouchers.domain.customers import Customer
from vouchers.domain.ledger import Account, Posting, Wallet, wallet_changes
from vouchers.domain.lifecycle import BusinessDefinition
from vouchers.domain.lots import Lot, LotState
from vouchers.domain.redemptions import Redemption, RedemptionStatus
from vouchers.domain.runs import ProcessRun, RunStatus
from vouchers.domain.voucher_types import VoucherType
from vouchers.domain.vouchers import Voucher, VoucherState
from vouchers.errors import (
    ApiKeyNotFoundError,
    CustomerNotFoundError,
    DefinitionNotFoundError,
    DuplicateError,
    InsufficientFundsError,
    LotNotFoundError,
    RedemptionNotFoundError,
    RunNotFoundError,
    StorageError,
    UserNotFoundError,
    VoucherNotFoundError,
    VoucherTypeNotFoundError,
)
from vouchers.services.ports import (
    CodeVault,
    ExportRecord,
    HistoryEntry,
    JournalEntry,
    NewVouchers,
    RecordedRedemption,
    RedeemedTally,
    RedemptionContext,
    SealedSecret,
    SealedVoucher,
    StoredResult,
    Transition,
    UnitOfWork,
    VoucherCriteria,
    VoucherQuery,
    VoucherTally,
)


@dataclass(frozen=True)
class StoredVoucher:
    """A row of the vouchers table: what may be shown, plus the secret material."""

    voucher: Voucher
    digest: bytes | None
    lookup_key_id: int | None
    ciphertext: bytes | None
    data_key_id: int | None

    def sealed(self) -> SealedSecret | None:
        """The secret as stored; None once purged."""
        if self.ciphertext is None or self.data_key_id is None or self.lookup_key_id is None:
            return None
        return SealedSecret(
            self.voucher.number, self.ciphertext, self.data_key_id, self.lookup_key_id
        )


@dataclass(frozen=True)
class _IdempotencyRow:
    operation: str
    request_hash: str
    result: str  # JSON text: the stored value stays immutable
    created_at: datetime


@dataclass(frozen=True)
class _SettingRow:
    value: str
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class _SettingChange:
    key: str
    old_value: str | None
    new_value: str | None
    at: datetime
    by: str


@dataclass(frozen=True)
class _Attempt:
    kind: AttemptKind
    subject: Subject
    at: datetime


@dataclass(frozen=True)
class _ExportRange:
    run_id: int
    first: int
    last: int
    at: datetime


@dataclass(frozen=True)
class _Event:
    id: int
    type: str
    payload: str  # JSON text
    created_at: datetime
    delivered_at: datetime | None = None


@dataclass
class _Tables:
    """One snapshot of every table. Values are frozen, so copying the containers isolates it."""

    voucher_types: dict[int, VoucherType] = field(default_factory=dict)
    lots: dict[int, Lot] = field(default_factory=dict)
    vouchers: dict[int, StoredVoucher] = field(default_factory=dict)
    digests: dict[bytes, int] = field(default_factory=dict)  # the unique index: digest → number
    history: list[HistoryEntry] = field(default_factory=list)  # in insertion (id) order
    export_ranges: list[_ExportRange] = field(default_factory=list)
    definitions: dict[int, BusinessDefinition] = field(default_factory=dict)
    runs: dict[int, ProcessRun] = field(default_factory=dict)
    customers: dict[int, Customer] = field(default_factory=dict)
    customer_passwords: dict[int, str] = field(default_factory=dict)
    portal_link_uses: dict[bytes, datetime] = field(default_factory=dict)  # → expires at
    wallets: dict[tuple[int, str], Wallet] = field(default_factory=dict)
    journal: dict[int, JournalEntry] = field(default_factory=dict)  # stored with their ids
    redemptions: dict[int, Redemption] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], _IdempotencyRow] = field(default_factory=dict)
    settings: dict[str, _SettingRow] = field(default_factory=dict)
    setting_changes: list[_SettingChange] = field(default_factory=list)
    attempts: list[_Attempt] = field(default_factory=list)
    lockouts: dict[Subject, Lockout] = field(default_factory=dict)
    events: list[_Event] = field(default_factory=list)
    users: dict[str, StaffUser] = field(default_factory=dict)  # by username
    api_keys: dict[str, ApiKey] = field(default_factory=dict)  # by name
    sessions: dict[bytes, Session] = field(default_factory=dict)  # by id digest
    # Seeded by the initial migration.
    counters: dict[str, int] = field(default_factory=lambda: {"voucher": 1, "lot": 1})
    next_ids: dict[str, int] = field(
        default_factory=lambda: {
            "voucher_types": 1,
            "lots": 1,
            "business_definitions": 1,
            "process_runs": 1,
            "customers": 1,
            "journal_entries": 1,
            "redemptions": 1,
            "events": 1,
            "staff_users": 1,
            "api_keys": 1,
        }
    )

    def copy(self) -> _Tables:
        return _Tables(**{f.name: getattr(self, f.name).copy() for f in dataclasses.fields(self)})

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
            secret.number: vault.open(secret.number, secret.ciphertext, secret.data_key_id)
            for secret in (row.sealed() for row in self.rows())
            if secret is not None
        }

    def history(self, number: int) -> list[HistoryEntry]:
        """Committed history rows of one voucher, oldest first (as the repository orders)."""
        return _ordered(entry for entry in self.tables.history if entry.voucher_number == number)

    def wallet(self, customer_id: int, currency: str) -> Wallet:
        """A committed wallet (empty if never credited)."""
        return self.tables.wallets.get((customer_id, currency)) or Wallet(customer_id, currency)

    def event_types(self) -> list[str]:
        """The types of the committed events, oldest first."""
        return [event.type for event in self.tables.events]

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


_Named = TypeVar("_Named", VoucherType, Lot, BusinessDefinition)


def _find(table: dict[int, _Named], ref: int | str) -> _Named | None:
    """By id, or by alternative code compared upper-case, as the SQL ``get`` does."""
    if isinstance(ref, int):
        return table.get(ref)
    return next((row for row in table.values() if row.alternative_code == ref.upper()), None)


def _matches(voucher: Voucher, criteria: VoucherCriteria) -> bool:
    """``transitions.matching``: every given criterion holds; states compare as of ``now``."""
    return (
        voucher.state_at(criteria.now) in criteria.states
        and criteria.lot_id in (None, voucher.lot_id)
        and criteria.type_id in (None, voucher.type_id)
        and (criteria.number_from is None or voucher.number >= criteria.number_from)
        and (criteria.number_to is None or voucher.number <= criteria.number_to)
        and criteria.stored_state in (None, voucher.state)
        and (criteria.expired_before is None or voucher.expires_at <= criteria.expired_before)
    )


def _matches_query(voucher: Voucher, query: VoucherQuery) -> bool:
    """``repositories._voucher_filters``; the fake keeps no notes, so text matches the tail."""
    text = None if query.text is None else query.text.strip().upper()
    return (
        (query.states is None or voucher.state_at(query.now) in query.states)
        and query.type_id in (None, voucher.type_id)
        and (query.number_from is None or voucher.number >= query.number_from)
        and (query.number_to is None or voucher.number <= query.number_to)
        and (
            query.customer_id is None or query.customer_id in (voucher.customer_id, voucher.used_by)
        )
        and (text is None or voucher.code_tail == text)
    )


def _ordered(entries: Iterable[HistoryEntry]) -> list[HistoryEntry]:
    """By time, then insertion order: ``ORDER BY at, id``."""
    return sorted(entries, key=lambda entry: entry.at)


def _shown(value: object) -> str:
    """A modified value as history text. SQL casts the old column value to text, which for
    timestamps is database-specific; the fake writes ISO 8601 for old and new alike."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


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

    def update(self, voucher_type: VoucherType) -> None:
        # Every column but the identity ones; an id that matches no row changes nothing.
        stored = self._t.voucher_types.get(voucher_type.id) if voucher_type.id else None
        if stored is not None:
            self._t.voucher_types[stored.id or 0] = dataclasses.replace(
                voucher_type,
                alternative_code=stored.alternative_code,
                created_at=stored.created_at,
                created_by=stored.created_by,
            )

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

    def prefixes(self) -> set[tuple[int, str | None]]:
        return {(lot.type_id, lot.prefix) for lot in self._t.lots.values()}

    def total_count(self, *, type_id: int) -> int:
        return sum(lot.count for lot in self._t.lots.values() if lot.type_id == type_id)

    # An UPDATE that matches no row changes nothing and raises nothing: so do these two.
    def amend(self, lot: Lot) -> None:
        assert lot.id is not None
        self._t.lots[lot.id] = dataclasses.replace(lot, first_number=None, posted_at=None)

    def modify(self, lot_id: int, changes: dict[str, object]) -> None:
        if (lot := self._t.lots.get(lot_id)) is not None:
            self._t.lots[lot_id] = dataclasses.replace(lot, **changes)  # type: ignore[arg-type]

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
            secret
            for secret in (row.sealed() for row in self._select(after=after))
            if secret is not None
            and (secret.lookup_key_id != lookup_key_id or secret.data_key_id != data_key_id)
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

    def list(
        self,
        *,
        lot_id: int | None = None,
        after: int = 0,
        limit: int = 100,
        query: VoucherQuery | None = None,
    ) -> list[Voucher]:
        found = [row.voucher for row in self._select(lot_id=lot_id, after=after)]
        if query is not None:
            found = [voucher for voucher in found if _matches_query(voucher, query)]
        return found[:limit]

    def transition(self, transition: Transition) -> int:
        criteria = transition.criteria
        _utc_aware(criteria.now, criteria.expired_before)
        moved = self._matching(criteria)
        self._t.history.extend(
            HistoryEntry(
                voucher_number=row.voucher.number,
                field="state",
                process=transition.process,
                # As in SQL: the state as of now, but the stored one for the sweep.
                from_value=(criteria.stored_state or row.voucher.state_at(criteria.now)).value,
                to_value=transition.to_state.value,
                at=criteria.now,
                by=transition.actor,
                run_id=transition.run_id or None,
            )
            for row in moved
        )
        for row in moved:
            number = row.voucher.number
            voucher = dataclasses.replace(row.voucher, state=transition.to_state)
            if not transition.wipe_secrets:
                self._t.vouchers[number] = dataclasses.replace(row, voucher=voucher)
                continue
            if row.digest is not None:
                del self._t.digests[row.digest]
            self._t.vouchers[number] = StoredVoucher(
                dataclasses.replace(voucher, code_tail=None), None, None, None, None
            )
        return len(moved)

    def generated_by(self, criteria: VoucherCriteria) -> set[str]:
        _utc_aware(criteria.now, criteria.expired_before)
        lot_ids = {row.voucher.lot_id for row in self._matching(criteria)}
        return {
            lot.generated_by
            for lot_id, lot in self._t.lots.items()
            if lot_id in lot_ids and lot.generated_by is not None
        }

    def modify(
        self,
        criteria: VoucherCriteria,
        changes: dict[str, object],
        *,
        actor: str,
        run_id: int | None,
    ) -> int:
        _utc_aware(criteria.now, criteria.expired_before)
        columns = {f.name for f in dataclasses.fields(Voucher)}
        for name, value in changes.items():
            if name not in columns:  # the SQL adapter looks the column up: a KeyError
                raise KeyError(name)
            if isinstance(value, datetime):
                _utc_aware(value)
        matched = self._matching(criteria)
        # One pass per field, as the SQL runs one INSERT … SELECT per field before the UPDATE.
        for name, value in changes.items():
            self._t.history.extend(
                HistoryEntry(
                    voucher_number=row.voucher.number,
                    field=name,
                    process="modify",
                    from_value=_shown(getattr(row.voucher, name)),
                    to_value=_shown(value),
                    at=criteria.now,
                    by=actor,
                    run_id=run_id or None,
                )
                for row in matched
                if getattr(row.voucher, name) != value
            )
        for row in matched:
            voucher = dataclasses.replace(row.voucher, **changes)  # type: ignore[arg-type]
            self._t.vouchers[row.voucher.number] = dataclasses.replace(row, voucher=voucher)
        return len(matched)

    def add_history(self, entries: Sequence[HistoryEntry]) -> None:
        for entry in entries:
            _utc_aware(entry.at)
            if entry.voucher_number not in self._t.vouchers:  # the foreign key
                raise StorageError(f"history for voucher {entry.voucher_number}, which is absent")
        self._t.history.extend(entries)

    def restore_used(self, number: int, *, actor: str, at: datetime, note: str) -> None:
        row = self._t.vouchers.get(number)
        if row is None or row.voucher.state is not VoucherState.USED:
            raise StorageError(f"voucher {number} was not used; cannot restore it")
        voucher = dataclasses.replace(
            row.voucher, state=VoucherState.ACTIVATED, used_at=None, used_by=None
        )
        self._t.vouchers[number] = dataclasses.replace(row, voucher=voucher)
        entry = HistoryEntry(number, "state", "reverse", "used", "activated", at, actor, note=note)
        self.add_history([entry])

    def history(self, number: int) -> builtins.list[HistoryEntry]:
        return _ordered(entry for entry in self._t.history if entry.voucher_number == number)

    def secret(self, number: int) -> SealedSecret | None:
        row = self._t.vouchers.get(number)
        return None if row is None else row.sealed()

    def _matching(self, criteria: VoucherCriteria) -> builtins.list[StoredVoucher]:
        return [row for row in self._select() if _matches(row.voucher, criteria)]

    def _select(self, *, lot_id: int | None = None, after: int = 0) -> builtins.list[StoredVoucher]:
        return [
            self._t.vouchers[n]
            for n in sorted(self._t.vouchers)
            if n > after and (lot_id is None or self._t.vouchers[n].voucher.lot_id == lot_id)
        ]


class FakeDefinitionRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def add(self, definition: BusinessDefinition, *, at: datetime, by: str) -> BusinessDefinition:
        _utc_aware(at)
        # Stored as given and compared exactly, like the unique column (``get`` upper-cases).
        code = definition.alternative_code
        if any(other.alternative_code == code for other in self._t.definitions.values()):
            raise DuplicateError(f"a business definition with alternative code {code} exists")
        new_id = self._t.new_id("business_definitions")
        self._t.definitions[new_id] = dataclasses.replace(definition, id=new_id, active=False)
        return self.get(new_id)

    def get(self, ref: int | str) -> BusinessDefinition:
        found = _find(self._t.definitions, ref)
        if found is None:
            raise DefinitionNotFoundError(f"no business definition {ref!r}")
        return found

    def active(self) -> BusinessDefinition | None:
        return next((d for d in self._t.definitions.values() if d.active), None)

    def set_active(self, definition_id: int | None) -> None:
        # Like the two UPDATEs: deactivate every active one, then activate this id (if any).
        for key, definition in self._t.definitions.items():
            active = key == definition_id
            if definition.active != active:
                self._t.definitions[key] = dataclasses.replace(definition, active=active)

    def all(self) -> builtins.list[BusinessDefinition]:
        return [self._t.definitions[key] for key in sorted(self._t.definitions)]


# The columns of process_runs: ``extra`` is not stored, so it reads back empty.
_RUN_COLUMNS = frozenset(f.name for f in dataclasses.fields(ProcessRun)) - {"id", "extra"}


class FakeRunRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def add(self, run: ProcessRun) -> ProcessRun:
        _utc_aware(run.scheduled_for, run.requested_at)
        new_id = self._t.new_id("process_runs")
        # Only what was asked is inserted; criteria make a JSON round trip.
        self._t.runs[new_id] = ProcessRun(
            process=run.process,
            criteria=json.loads(json.dumps(run.criteria)),
            status=RunStatus(run.status),
            scheduled_for=run.scheduled_for,
            requested_by=run.requested_by,
            requested_at=run.requested_at,
            id=new_id,
            approved_by=run.approved_by,
            approved_at=run.approved_at,
        )
        return self.get(new_id)

    def get(self, run_id: int) -> ProcessRun:
        found = self._t.runs.get(run_id)
        if found is None:
            raise RunNotFoundError(f"no process run {run_id}")
        return found

    def claim(self, run_id: int | None, *, now: datetime, worker: str) -> ProcessRun | None:
        _utc_aware(now)
        scheduled = [
            run
            for run in self._t.runs.values()
            if run.status is RunStatus.SCHEDULED
            and (run.id == run_id if run_id is not None else run.scheduled_for <= now)
        ]
        if not scheduled:
            return None
        found = min(scheduled, key=lambda run: (run.scheduled_for, run.id or 0))
        self._t.runs[found.id or 0] = dataclasses.replace(
            found,
            status=RunStatus.RUNNING,
            worker=worker,
            started_at=now,
            heartbeat_at=now,
            error=None,
        )
        return self.get(found.id or 0)

    def update(self, run_id: int, **values: Any) -> None:
        unknown = set(values) - _RUN_COLUMNS
        if unknown:  # SQLAlchemy: "Unconsumed column names"
            raise StorageError(f"process_runs has no column {', '.join(sorted(unknown))}")
        _utc_aware(*(v for v in values.values() if isinstance(v, datetime)))
        if "status" in values:
            values["status"] = RunStatus(values["status"])
        if "criteria" in values:
            values["criteria"] = json.loads(json.dumps(values["criteria"]))
        if (run := self._t.runs.get(run_id)) is not None:
            self._t.runs[run_id] = dataclasses.replace(run, **values)

    def running(self) -> builtins.list[ProcessRun]:
        return [run for run in self._t.runs.values() if run.status is RunStatus.RUNNING]

    def history_rows(self, run_id: int) -> int:
        rows = sum(1 for entry in self._t.history if entry.run_id == run_id)
        exported = sum(r.last - r.first + 1 for r in self._t.export_ranges if r.run_id == run_id)
        return rows + exported

    def recent(self, *, limit: int = 50, before: int | None = None) -> builtins.list[ProcessRun]:
        keys = [key for key in sorted(self._t.runs, reverse=True) if before is None or key < before]
        return [self._t.runs[key] for key in keys][:limit]

    def with_expired_files(self, now: datetime) -> builtins.list[ProcessRun]:
        return [
            run
            for _, run in sorted(self._t.runs.items())
            if run.result_file is not None
            and run.file_expires_at is not None
            and run.file_expires_at <= now
        ]


class FakeExportRepository:
    """Exports over the fake vouchers; one copy per transaction is already a snapshot."""

    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def snapshot(self) -> None:
        return None

    def count(self, criteria: VoucherCriteria) -> int:
        return len(self._rows(criteria))

    def pages(
        self, criteria: VoucherCriteria, *, size: int
    ) -> Generator[builtins.list[SealedVoucher], None, None]:
        rows = [
            SealedVoucher(
                row.voucher.number,
                row.ciphertext or b"",
                row.data_key_id or 0,
                row.digest or b"",
                row.lookup_key_id or 0,
                row.voucher.type_id,
                row.voucher.value_minor,
                row.voucher.extra_value_minor,
                row.voucher.currency,
                row.voucher.effective_at,
                row.voucher.expires_at,
            )
            for row in self._rows(criteria)
        ]
        for start in range(0, len(rows), size):
            yield rows[start : start + size]

    def record(self, run_id: int, ranges: Sequence[tuple[int, int]], *, at: datetime) -> int:
        if run_id not in self._t.runs:  # the foreign key
            raise StorageError(f"no process run {run_id}")
        for first, last in ranges:
            if first > last:  # the CHECK constraint
                raise StorageError(f"range {first}..{last} is not ordered")
            self._t.export_ranges.append(_ExportRange(run_id, first, last, at))
        return sum(last - first + 1 for first, last in ranges)

    def covering(self, number: int) -> builtins.list[ExportRecord]:
        found = [r for r in self._t.export_ranges if r.first <= number <= r.last]
        return [
            ExportRecord(r.run_id, r.at, self._t.runs[r.run_id].requested_by)
            for r in sorted(found, key=lambda r: (r.at, r.run_id))
        ]

    def _rows(self, criteria: VoucherCriteria) -> builtins.list[StoredVoucher]:
        return [
            self._t.vouchers[n]
            for n in sorted(self._t.vouchers)
            if self._t.vouchers[n].ciphertext is not None
            and _matches(self._t.vouchers[n].voucher, criteria)
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


def _insufficient(customer_id: int, code: str) -> InsufficientFundsError:
    return InsufficientFundsError(
        f"the {code} wallet of customer {customer_id} does not hold enough"
    )


def _apply_postings(tables: _Tables, postings: Sequence[Posting]) -> None:
    """``write_postings``' effect on the wallets, all or nothing: every change is checked
    before any is applied.

    A change that only adds creates the wallet (the upsert); one that takes anything out
    needs the wallet to exist (the plain UPDATE) and may not take a balance below zero
    (the CHECK). A credit to a customer that does not exist fails the wallet's foreign
    key, which the SQL adapter, catching every IntegrityError, also reports as
    insufficient funds.
    """
    updated: dict[tuple[int, str], Wallet] = {}
    for (customer_id, code), (paid, bonus) in wallet_changes(postings).items():
        wallet = tables.wallets.get((customer_id, code))
        if paid >= 0 and bonus >= 0:
            if customer_id not in tables.customers:
                raise _insufficient(customer_id, code)
            wallet = wallet or Wallet(customer_id, code)
        elif wallet is None:
            raise _insufficient(customer_id, code)
        new = Wallet(customer_id, code, wallet.paid_minor + paid, wallet.bonus_minor + bonus)
        if new.paid_minor < 0 or new.bonus_minor < 0:
            raise _insufficient(customer_id, code)
        updated[(customer_id, code)] = new
    tables.wallets.update(updated)


class FakeCustomerRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def add(self, customer: Customer) -> Customer:
        _utc_aware(customer.created_at)
        ref = customer.external_ref
        # A missing created_at fails the same INSERT (NOT NULL), and the SQL adapter reports
        # every IntegrityError of it as a duplicate.
        taken = any(other.external_ref == ref for other in self._t.customers.values())
        if taken or customer.created_at is None:
            raise DuplicateError(f"customer {ref} exists")
        new_id = self._t.new_id("customers")
        self._t.customers[new_id] = dataclasses.replace(
            customer, id=new_id, created_by=customer.created_by or "system"
        )
        return self.get(new_id)

    def get(self, ref: int | str) -> Customer:
        found = self._t.customers.get(ref) if isinstance(ref, int) else self.find(ref)
        if found is None:
            raise CustomerNotFoundError(f"no customer {ref!r}")
        return found

    def find(self, external_ref: str) -> Customer | None:
        # Compared exactly, like the unique column.
        return next((c for c in self._t.customers.values() if c.external_ref == external_ref), None)

    def lock(self, customer_id: int) -> None:
        if customer_id not in self._t.customers:
            raise CustomerNotFoundError(f"no customer {customer_id}")

    def update(self, customer: Customer) -> None:
        # Every column but the identity ones; an id that matches no row changes nothing.
        stored = self._t.customers.get(customer.id) if customer.id is not None else None
        if stored is None:
            return
        if any(
            other.external_ref == customer.external_ref and key != customer.id
            for key, other in self._t.customers.items()
        ):  # the unique index: a driver error
            raise StorageError(f"duplicate customer reference {customer.external_ref}")
        self._t.customers[customer.id or 0] = dataclasses.replace(
            customer, created_at=stored.created_at, created_by=stored.created_by
        )

    def list(self, *, after: str = "", limit: int = 100) -> builtins.list[Customer]:
        found = sorted(
            (c for c in self._t.customers.values() if c.external_ref > after),
            key=lambda c: c.external_ref,
        )
        return found[:limit]

    def password_hash(self, customer_id: int) -> str | None:
        return self._t.customer_passwords.get(customer_id)

    def set_password_hash(
        self, customer_id: int, password_hash: str, *, at: datetime, by: str
    ) -> None:
        _utc_aware(at)
        if customer_id not in self._t.customers:  # the foreign key
            raise StorageError(f"no customer {customer_id}")
        self._t.customer_passwords[customer_id] = password_hash

    def claim_link(
        self, use_digest: bytes, *, customer_id: int, at: datetime, expires_at: datetime
    ) -> bool:
        _utc_aware(at)
        uses = self._t.portal_link_uses
        for digest in [d for d, until in uses.items() if until < at]:
            del uses[digest]
        if use_digest in uses:
            return False
        uses[use_digest] = expires_at
        return True


class FakeLedgerRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def post(self, entry: JournalEntry) -> int:
        _utc_aware(entry.at)
        _apply_postings(self._t, entry.postings)  # raises before anything is written
        new_id = self._t.new_id("journal_entries")
        self._t.journal[new_id] = dataclasses.replace(
            entry, id=new_id, postings=tuple(entry.postings)
        )
        return new_id

    def wallet(self, customer_id: int, currency: str, *, for_update: bool = False) -> Wallet:
        return self._t.wallets.get((customer_id, currency)) or Wallet(customer_id, currency)

    def wallets(self, customer_id: int) -> builtins.list[Wallet]:
        return sorted(
            (w for (owner, _), w in self._t.wallets.items() if owner == customer_id),
            key=lambda w: w.currency,
        )

    def entries(
        self, *, customer_id: int | None = None, before: int | None = None, limit: int = 50
    ) -> builtins.list[JournalEntry]:
        ids = [
            key
            for key, entry in self._t.journal.items()
            if (customer_id is None or any(p.customer_id == customer_id for p in entry.postings))
            and (before is None or key < before)
        ]
        return [self._t.journal[key] for key in sorted(ids, reverse=True)[:limit]]

    def unbalanced_entries(self) -> builtins.list[tuple[int, str, int]]:
        found: builtins.list[tuple[int, str, int]] = []
        for key in sorted(self._t.journal):
            totals: dict[str, int] = {}
            for posting in self._t.journal[key].postings:
                totals[posting.currency] = totals.get(posting.currency, 0) + posting.amount_minor
            found.extend((key, code, total) for code, total in sorted(totals.items()) if total)
        return found

    def wallet_mismatches(self) -> builtins.list[tuple[int, str, int, int, int, int]]:
        derived: dict[tuple[int, str], builtins.list[int]] = {}
        for posting in self._postings():
            if posting.customer_id is None:
                continue
            sums = derived.setdefault((posting.customer_id, posting.currency), [0, 0])
            sums[0 if posting.account is Account.WALLET_PAID else 1] += posting.amount_minor
        stored = {key: (w.paid_minor, w.bonus_minor) for key, w in self._t.wallets.items()}
        mismatches = []
        for key in sorted(set(derived) | set(stored)):
            paid, bonus = stored.get(key, (0, 0))
            journal_paid, journal_bonus = derived.get(key, [0, 0])
            if (paid, bonus) != (journal_paid, journal_bonus):
                mismatches.append((*key, paid, journal_paid, bonus, journal_bonus))
        return mismatches

    def totals(self) -> dict[tuple[str, str], int]:
        totals: dict[tuple[str, str], int] = {}
        for posting in self._postings():
            key = (posting.account.value, posting.currency)
            totals[key] = totals.get(key, 0) + posting.amount_minor
        return totals

    def _postings(self) -> builtins.list[Posting]:
        return [p for key in sorted(self._t.journal) for p in self._t.journal[key].postings]


class FakeRedemptionRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def context(
        self,
        *,
        digests: Sequence[bytes],
        customer_ref: str,
        subjects: Sequence[Subject],
        now: datetime,
        idempotency: tuple[str, str] | None = None,
    ) -> RedemptionContext:
        voucher = FakeVoucherRepository(self._t).find_by_digests(digests)
        voucher_type = (
            None if voucher is None else FakeVoucherTypeRepository(self._t).get(voucher.type_id)
        )
        return RedemptionContext(
            lockouts=FakeAttemptRepository(self._t).lockouts(subjects, now=now),
            voucher=voucher,
            voucher_type=voucher_type,
            settings=FakeSettingRepository(self._t).all(),
            customer=FakeCustomerRepository(self._t).find(customer_ref),
            stored_result=(
                None
                if idempotency is None
                else FakeIdempotencyRepository(self._t).get(*idempotency)
            ),
        )

    def record(
        self,
        redemption: Redemption,
        entry: JournalEntry,
        history: HistoryEntry,
        *,
        events: Sequence[tuple[str, dict[str, Any]]] = (),
    ) -> RecordedRedemption | None:
        at = redemption.redeemed_at
        _utc_aware(at, redemption.reversed_at, entry.at, history.at)
        number = redemption.voucher_number
        row = self._t.vouchers.get(number)
        # The conditional UPDATE: activated, and within its dates at the time of redemption.
        if (
            row is None
            or row.voucher.state is not VoucherState.ACTIVATED
            or not row.voucher.effective_at <= at < row.voucher.expires_at
        ):
            return None
        if redemption.customer_id not in self._t.customers:  # the foreign key
            raise StorageError(f"redemption for customer {redemption.customer_id}, who is absent")
        if redemption.status is RedemptionStatus.COMPLETED and any(
            r.voucher_number == number and r.status is RedemptionStatus.COMPLETED
            for r in self._t.redemptions.values()
        ):  # the partial unique index, the backstop of exactly once
            raise StorageError(f"voucher {number} already has a completed redemption")
        for _, payload in events:
            json.dumps(payload)  # the JSON column: a TypeError before anything is written
        _apply_postings(self._t, entry.postings)  # raises before anything is written
        voucher = dataclasses.replace(
            row.voucher, state=VoucherState.USED, used_at=at, used_by=redemption.customer_id
        )
        self._t.vouchers[number] = dataclasses.replace(row, voucher=voucher)
        redemption_id = self._t.new_id("redemptions")
        stored = dataclasses.replace(redemption, id=redemption_id)
        self._t.redemptions[redemption_id] = stored
        entry_id = self._t.new_id("journal_entries")
        self._t.journal[entry_id] = dataclasses.replace(
            entry, id=entry_id, redemption_id=redemption_id, postings=tuple(entry.postings)
        )
        self._t.history.append(history)
        for event_type, payload in events:  # each payload gets the new redemption's id
            FakeEventRepository(self._t).add(
                event_type, {**payload, "redemption_id": redemption_id}, at=at
            )
        wallet = FakeLedgerRepository(self._t).wallet(
            redemption.customer_id, redemption.credit.currency
        )
        return RecordedRedemption(stored, wallet.paid_minor, wallet.bonus_minor)

    def get(self, redemption_id: int, *, for_update: bool = False) -> Redemption:
        found = self._t.redemptions.get(redemption_id)
        if found is None:
            raise RedemptionNotFoundError(f"no redemption {redemption_id}")
        return found

    def count_for(self, customer_id: int, *, type_id: int | None, lot_id: int | None) -> int:
        return sum(
            1
            for r in self._completed(customer_id)
            if type_id in (None, r.type_id) and lot_id in (None, r.lot_id)
        )

    def has_completed(self, customer_id: int) -> bool:
        return bool(self._completed(customer_id))

    def for_customer(self, customer_id: int, *, limit: int = 50) -> builtins.list[Redemption]:
        return [
            self._t.redemptions[key]
            for key in sorted(self._t.redemptions, reverse=True)
            if self._t.redemptions[key].customer_id == customer_id
        ][:limit]

    def mark_reversed(self, redemption_id: int, *, at: datetime, by: str) -> bool:
        _utc_aware(at)
        found = self._t.redemptions.get(redemption_id)
        if found is None or found.status is not RedemptionStatus.COMPLETED:
            return False
        self._t.redemptions[redemption_id] = dataclasses.replace(
            found, status=RedemptionStatus.REVERSED, reversed_at=at, reversed_by=by
        )
        return True

    def _completed(self, customer_id: int) -> builtins.list[Redemption]:
        return [
            r
            for r in self._t.redemptions.values()
            if r.customer_id == customer_id and r.status is RedemptionStatus.COMPLETED
        ]


class FakeIdempotencyRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def get(self, caller: str, key: str) -> StoredResult | None:
        row = self._t.idempotency.get((caller, key))
        if row is None:
            return None
        return StoredResult(row.operation, row.request_hash, json.loads(row.result))

    def add(self, caller: str, key: str, stored: StoredResult, *, at: datetime) -> None:
        _utc_aware(at)
        result = json.dumps(stored.result)  # the JSON column: a TypeError for anything else
        if (caller, key) in self._t.idempotency:
            raise DuplicateError(f"idempotency key {key!r} was taken meanwhile")
        self._t.idempotency[(caller, key)] = _IdempotencyRow(
            stored.operation, stored.request_hash, result, at
        )


class FakeSettingRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def all(self) -> dict[str, str]:
        return {key: row.value for key, row in self._t.settings.items()}

    def set(self, key: str, value: str | None, *, at: datetime, by: str) -> str | None:
        _utc_aware(at)
        old_row = self._t.settings.get(key)
        old = None if old_row is None else old_row.value
        if value is None:
            self._t.settings.pop(key, None)
        else:
            self._t.settings[key] = _SettingRow(value, at, by)
        self._t.setting_changes.append(_SettingChange(key, old, value, at, by))
        return old

    def changes(self, *, limit: int = 50) -> builtins.list[dict[str, Any]]:
        return [
            {"key": c.key, "old": c.old_value, "new": c.new_value, "at": c.at, "by": c.by}
            for c in reversed(self._t.setting_changes)
        ][:limit]


class FakeAttemptRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def record(self, kind: AttemptKind, subjects: Sequence[Subject], *, at: datetime) -> None:
        _utc_aware(at)
        self._t.attempts.extend(_Attempt(kind, subject, at) for subject in subjects)

    def count(self, subject: Subject, kind: AttemptKind, *, since: datetime) -> int:
        return sum(
            1 for a in self._t.attempts if a.subject == subject and a.kind is kind and a.at > since
        )

    def lockouts(self, subjects: Sequence[Subject], *, now: datetime) -> builtins.list[Lockout]:
        found = []
        for subject in subjects:
            lockout = self.last_lockout(subject)
            if lockout is not None and lockout.until > now:
                found.append(lockout)
        return found

    def last_lockout(self, subject: Subject) -> Lockout | None:
        stored = self._t.lockouts.get(subject)
        return None if stored is None else Lockout(subject, stored.until, stored.strikes)

    def lock(self, lockout: Lockout) -> None:
        _utc_aware(lockout.until)
        self._t.lockouts[lockout.subject] = lockout

    def clear(self, subject: Subject) -> None:
        self._t.lockouts.pop(subject, None)
        self._t.attempts = [a for a in self._t.attempts if a.subject != subject]

    def prune(self, *, before: datetime) -> int:
        kept = [a for a in self._t.attempts if not a.at < before]
        pruned = len(self._t.attempts) - len(kept)
        self._t.attempts = kept
        return pruned


class FakeEventRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def add(self, event_type: str, payload: dict[str, Any], *, at: datetime) -> None:
        _utc_aware(at)
        text = json.dumps(payload)  # the JSON column: a TypeError for anything else
        self._t.events.append(_Event(self._t.new_id("events"), event_type, text, at))

    def recent(
        self, *, event_type: str | None = None, limit: int = 50
    ) -> builtins.list[dict[str, Any]]:
        return [
            {
                "id": e.id,
                "type": e.type,
                "payload": json.loads(e.payload),
                "created_at": e.created_at,
            }
            for e in reversed(self._t.events)
            if event_type is None or e.type == event_type
        ][:limit]


class FakeStaffUserRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def add(self, user: StaffUser) -> StaffUser:
        _utc_aware(user.created_at, user.password_changed_at)
        # A missing NOT NULL timestamp fails the INSERT too, reported as a duplicate.
        if user.username in self._t.users or None in (user.created_at, user.password_changed_at):
            raise DuplicateError(f"user {user.username} exists")
        self._t.users[user.username] = dataclasses.replace(
            user, id=self._t.new_id("staff_users"), created_by=user.created_by or "system"
        )
        return self.get(user.username)

    def get(self, username: str) -> StaffUser:
        found = self.find(username)
        if found is None:
            raise UserNotFoundError(f"no user {username!r}")
        return found

    def find(self, username: str) -> StaffUser | None:
        return self._t.users.get(username)

    def update(self, user: StaffUser) -> None:
        _utc_aware(user.password_changed_at)
        stored = self._t.users.get(user.username)
        if stored is None:
            return  # an UPDATE that matches no row
        self._t.users[user.username] = dataclasses.replace(
            stored,
            display_name=user.display_name,
            roles=user.roles,
            password_hash=user.password_hash,
            password_changed_at=user.password_changed_at,
            active=user.active,
        )

    def list(self) -> builtins.list[StaffUser]:
        return [self._t.users[name] for name in sorted(self._t.users)]


class FakeSessionRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def add(self, session: Session) -> None:
        _utc_aware(session.created_at, session.expires_at, session.revoked_at)
        if session.id_digest in self._t.sessions:
            raise StorageError("duplicate session (primary key)")
        if session.customer_id is not None and session.customer_id not in self._t.customers:
            raise StorageError(f"no customer {session.customer_id} (foreign key)")
        self._t.sessions[session.id_digest] = session

    def find(self, id_digest: bytes) -> Session | None:
        return self._t.sessions.get(id_digest)

    def revoke(self, id_digest: bytes, *, at: datetime) -> None:
        _utc_aware(at)
        found = self._t.sessions.get(id_digest)
        if found is not None and found.revoked_at is None:
            self._t.sessions[id_digest] = dataclasses.replace(found, revoked_at=at)

    def revoke_all(self, kind: PrincipalKind, name: str, *, at: datetime) -> int:
        _utc_aware(at)
        live = [
            s
            for s in self._t.sessions.values()
            if s.kind is kind and s.name == name and s.revoked_at is None and s.expires_at > at
        ]
        for session in live:
            self._t.sessions[session.id_digest] = dataclasses.replace(session, revoked_at=at)
        return len(live)

    def prune(self, *, before: datetime) -> int:
        _utc_aware(before)
        old = [d for d, s in self._t.sessions.items() if s.expires_at < before]
        for digest in old:
            del self._t.sessions[digest]
        return len(old)


class FakeApiKeyRepository:
    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def add(self, key: ApiKey) -> ApiKey:
        _utc_aware(key.created_at, key.revoked_at)
        taken = key.name in self._t.api_keys or any(
            other.key_id == key.key_id for other in self._t.api_keys.values()
        )
        if taken or key.created_at is None:
            raise DuplicateError(f"API key {key.name} exists")
        if key.customer_id is not None and key.customer_id not in self._t.customers:
            raise StorageError(f"no customer {key.customer_id} (foreign key)")
        self._t.api_keys[key.name] = dataclasses.replace(
            key,
            id=self._t.new_id("api_keys"),
            created_by=key.created_by or "system",
            customer_ref=None,
        )
        return self.get(key.name)

    def get(self, name: str) -> ApiKey:
        stored = self._t.api_keys.get(name)
        if stored is None:
            raise ApiKeyNotFoundError(f"no API key {name!r}")
        return self._joined(stored)

    def find(self, key_id: str) -> ApiKey | None:
        stored = next((k for k in self._t.api_keys.values() if k.key_id == key_id), None)
        return None if stored is None else self._joined(stored)

    def revoke(self, name: str, *, at: datetime, by: str) -> bool:
        _utc_aware(at)
        stored = self.get(name)
        if stored.revoked_at is not None:
            return False
        self._t.api_keys[name] = dataclasses.replace(
            self._t.api_keys[name], revoked_at=at, revoked_by=by
        )
        return True

    def list(self) -> builtins.list[ApiKey]:
        return [self._joined(self._t.api_keys[name]) for name in sorted(self._t.api_keys)]

    def _joined(self, key: ApiKey) -> ApiKey:
        """With the reference of its customer, as the SQL outer join reads it."""
        customer = self._t.customers.get(key.customer_id) if key.customer_id else None
        return dataclasses.replace(key, customer_ref=customer.external_ref if customer else None)


class FakeDashboardRepository:
    """``SqlDashboardRepository`` over the fake tables: the same tallies, computed in Python."""

    def __init__(self, tables: _Tables) -> None:
        self._t = tables

    def voucher_tallies(
        self,
        *,
        now: datetime,
        day_start: datetime,
        month_start: datetime,
        lot_id: int | None = None,
    ) -> builtins.list[VoucherTally]:
        groups: dict[tuple[VoucherState, str], list[int]] = {}
        for row in self._t.vouchers.values():
            voucher = row.voucher
            if lot_id is not None and voucher.lot_id != lot_id:
                continue
            tally = groups.setdefault((voucher.state_at(now), voucher.currency), [0, 0, 0, 0])
            value = voucher.value_minor
            tally[0] += 1
            tally[1] += value
            tally[2] += value if voucher.created_at >= day_start else 0
            tally[3] += value if voucher.created_at >= month_start else 0
        return [
            VoucherTally(state, code, count, value, today, month)
            for (state, code), (count, value, today, month) in groups.items()
        ]

    def redeemed_tallies(
        self, *, day_start: datetime, month_start: datetime
    ) -> builtins.list[RedeemedTally]:
        groups: dict[str, list[int]] = {}
        for redemption in self._t.redemptions.values():
            if (
                redemption.status is not RedemptionStatus.COMPLETED
                or redemption.redeemed_at < month_start
            ):
                continue
            credit = redemption.credit
            tally = groups.setdefault(credit.currency, [0] * 6)
            today = redemption.redeemed_at >= day_start
            for index, amount in enumerate((1, credit.value_minor, credit.bonus_minor)):
                tally[index] += amount if today else 0
                tally[index + 3] += amount
        return [RedeemedTally(code, *groups[code]) for code in sorted(groups)]

    def active_lockouts(self, *, now: datetime, limit: int = 20) -> builtins.list[Lockout]:
        found = [lockout for lockout in self._t.lockouts.values() if lockout.until > now]
        return sorted(found, key=lambda lockout: lockout.until, reverse=True)[:limit]


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

    @property
    def definitions(self) -> FakeDefinitionRepository:
        return FakeDefinitionRepository(self._open())

    @property
    def runs(self) -> FakeRunRepository:
        return FakeRunRepository(self._open())

    @property
    def exports(self) -> FakeExportRepository:
        return FakeExportRepository(self._open())

    @property
    def customers(self) -> FakeCustomerRepository:
        return FakeCustomerRepository(self._open())

    @property
    def ledger(self) -> FakeLedgerRepository:
        return FakeLedgerRepository(self._open())

    @property
    def redemptions(self) -> FakeRedemptionRepository:
        return FakeRedemptionRepository(self._open())

    @property
    def idempotency(self) -> FakeIdempotencyRepository:
        return FakeIdempotencyRepository(self._open())

    @property
    def settings(self) -> FakeSettingRepository:
        return FakeSettingRepository(self._open())

    @property
    def attempts(self) -> FakeAttemptRepository:
        return FakeAttemptRepository(self._open())

    @property
    def events(self) -> FakeEventRepository:
        return FakeEventRepository(self._open())

    @property
    def users(self) -> FakeStaffUserRepository:
        return FakeStaffUserRepository(self._open())

    @property
    def api_keys(self) -> FakeApiKeyRepository:
        return FakeApiKeyRepository(self._open())

    @property
    def sessions(self) -> FakeSessionRepository:
        return FakeSessionRepository(self._open())

    @property
    def dashboard(self) -> FakeDashboardRepository:
        return FakeDashboardRepository(self._open())


def _conforms(uow: FakeUnitOfWork) -> UnitOfWork:
    """Never called: ``mypy --strict tests/support/fakes.py`` checks the fake against the port."""
    return uow


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
