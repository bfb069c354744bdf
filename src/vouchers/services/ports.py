"""What services need from the outside world, as protocols adapters implement.

Services depend on these and nothing else: a unit of work with repositories, a code vault
for secrets, and a clock. Tests can pass fakes; production passes the SQL adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from vouchers.domain.lifecycle import BusinessDefinition
from vouchers.domain.lots import Lot
from vouchers.domain.runs import ProcessRun
from vouchers.domain.voucher_types import VoucherType
from vouchers.domain.vouchers import Voucher, VoucherState

Clock = Callable[[], datetime]
Progress = Callable[[int, int], None]
"""Called with (done, total) as long work advances."""


@dataclass(frozen=True)
class NewVouchers:
    """A chunk of freshly generated vouchers for one lot, numbered from ``first_number``."""

    lot: Lot
    first_number: int
    state: VoucherState
    digests: Sequence[bytes]
    ciphertexts: Sequence[bytes]
    tails: Sequence[str]
    lookup_key_id: int
    data_key_id: int
    created_at: datetime


@dataclass(frozen=True)
class SealedSecret:
    """A voucher's secret material as stored, for reveal, export and key rotation."""

    number: int
    ciphertext: bytes
    data_key_id: int
    lookup_key_id: int


@dataclass(frozen=True)
class VoucherCriteria:
    """Which vouchers a process addresses, with references already resolved to ids.

    Every given criterion must hold; ``states`` are the states as of ``now`` (expiry
    derived), and ``expired_before`` keeps vouchers whose expiration is at or before it.
    """

    states: frozenset[VoucherState]
    now: datetime
    lot_id: int | None = None
    type_id: int | None = None
    number_from: int | None = None
    number_to: int | None = None
    expired_before: datetime | None = None
    stored_state: VoucherState | None = None  # the state as stored, before derivation


@dataclass(frozen=True)
class Transition:
    """A set-based move of every voucher matching ``criteria`` to ``to_state``."""

    criteria: VoucherCriteria
    process: str
    to_state: VoucherState
    actor: str
    run_id: int | None = None
    wipe_secrets: bool = False


@dataclass(frozen=True)
class HistoryEntry:
    """One fact in a voucher's audit trail."""

    voucher_number: int
    field: str
    process: str
    from_value: str | None
    to_value: str | None
    at: datetime
    by: str
    run_id: int | None = None
    note: str | None = None


class CodeVault(Protocol):
    """Seals codes into lookup digests and ciphertexts, and opens ciphertexts."""

    lookup_key_id: int
    data_key_id: int

    def digest(self, code: str) -> bytes: ...

    def digests(self, code: str) -> list[bytes]: ...

    def seal(self, number: int, code: str) -> bytes: ...

    def seal_many(
        self, first_number: int, codes: Sequence[str]
    ) -> tuple[list[bytes], list[bytes]]: ...

    def open(self, number: int, ciphertext: bytes, key_id: int) -> str: ...


class VoucherTypeRepository(Protocol):
    def add(self, voucher_type: VoucherType) -> VoucherType:
        """Store a new type and return it with its id; raises DuplicateError."""
        ...

    def get(self, ref: int | str) -> VoucherType:
        """By id or alternative code; raises VoucherTypeNotFoundError."""
        ...

    def update(self, voucher_type: VoucherType) -> None:
        """Store the updatable fields of an existing type."""
        ...

    def list(self) -> list[VoucherType]: ...


class LotRepository(Protocol):
    def add(self, lot: Lot) -> Lot:
        """Store a new lot and return it with its id; raises DuplicateError."""
        ...

    def get(self, ref: int | str, *, for_update: bool = False) -> Lot:
        """By id or alternative code, optionally locked; raises LotNotFoundError."""
        ...

    def list(self, *, type_id: int | None = None) -> list[Lot]: ...

    def total_count(self, *, type_id: int) -> int:
        """How many vouchers the lots of a type hold or will hold once generated."""
        ...

    def amend(self, lot: Lot) -> None:
        """Store an amended lot's count, state, block start and cleared number block."""
        ...

    def modify(self, lot_id: int, changes: dict[str, object]) -> None:
        """Set the lot's type_id, effective_at or expires_at."""
        ...

    def assign_numbers(self, lot_id: int, first_number: int, *, by: str) -> None:
        """Record the lot's reserved block of numbers and who generates it."""
        ...

    def record_generated(self, lot_id: int, count: int, *, posted_at: datetime | None) -> None:
        """Add ``count`` to the generated count; post the lot when ``posted_at`` is given."""
        ...


class VoucherRepository(Protocol):
    def add_generated(self, chunk: NewVouchers) -> list[int]:
        """Insert a chunk; return the offsets of rows refused because their digest exists."""
        ...

    def get(self, number: int) -> Voucher:
        """Raises VoucherNotFoundError."""
        ...

    def find_by_digests(self, digests: Sequence[bytes]) -> Voucher | None: ...

    def transition(self, transition: Transition) -> int:
        """Move every matching voucher and write one history row each; return how many."""
        ...

    def generated_by(self, criteria: VoucherCriteria) -> set[str]:
        """Who generated the lots of the matching vouchers (for the four-eyes rule)."""
        ...

    def modify(
        self,
        criteria: VoucherCriteria,
        changes: dict[str, object],
        *,
        actor: str,
        run_id: int | None,
    ) -> int:
        """Set type or validity fields of matching vouchers, with history; return how many."""
        ...

    def add_history(self, entries: Sequence[HistoryEntry]) -> None: ...

    def history(self, number: int) -> list[HistoryEntry]: ...

    def secret(self, number: int) -> SealedSecret | None:
        """The stored secret of a voucher, None once purged."""
        ...

    def secrets_not_under(
        self, lookup_key_id: int, data_key_id: int, *, after: int, limit: int
    ) -> list[SealedSecret]:
        """Secrets sealed under other keys than these, in number order after ``after``."""
        ...

    def reseal(self, rows: Sequence[tuple[int, bytes, int, bytes, int]]) -> None:
        """Replace (number, digest, lookup key id, ciphertext, data key id) of each row."""
        ...

    def list(self, *, lot_id: int | None = None, after: int = 0, limit: int = 100) -> list[Voucher]:
        """Vouchers in number order after ``after`` (keyset pagination)."""
        ...


class DefinitionRepository(Protocol):
    def add(self, definition: BusinessDefinition, *, at: datetime, by: str) -> BusinessDefinition:
        """Store a new, inactive definition; raises DuplicateError."""
        ...

    def get(self, ref: int | str) -> BusinessDefinition:
        """By id or alternative code; raises DefinitionNotFoundError."""
        ...

    def active(self) -> BusinessDefinition | None: ...

    def set_active(self, definition_id: int | None) -> None:
        """Make this definition the only active one (None: deactivate all)."""
        ...

    def all(self) -> list[BusinessDefinition]: ...


class RunRepository(Protocol):
    def add(self, run: ProcessRun) -> ProcessRun: ...

    def get(self, run_id: int) -> ProcessRun:
        """Raises RunNotFoundError."""
        ...

    def claim(self, run_id: int | None, *, now: datetime, worker: str) -> ProcessRun | None:
        """Mark a scheduled run (this one, or the most overdue due one) running."""
        ...

    def update(self, run_id: int, **values: Any) -> None: ...

    def running(self) -> list[ProcessRun]: ...

    def history_rows(self, run_id: int) -> int:
        """How many history rows the run wrote (proof that its transaction committed)."""
        ...

    def recent(self, *, limit: int = 50) -> list[ProcessRun]: ...


class CounterRepository(Protocol):
    def allocate(self, name: str, count: int) -> int:
        """Reserve ``count`` consecutive values of a counter; return the first."""
        ...


class UnitOfWork(Protocol):
    """One transaction; ``with uow:`` begins it, ``commit()`` ends it, leaving rolls back."""

    @property
    def voucher_types(self) -> VoucherTypeRepository: ...

    @property
    def lots(self) -> LotRepository: ...

    @property
    def vouchers(self) -> VoucherRepository: ...

    @property
    def counters(self) -> CounterRepository: ...

    @property
    def definitions(self) -> DefinitionRepository: ...

    @property
    def runs(self) -> RunRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...
