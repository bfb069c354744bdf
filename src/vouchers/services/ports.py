"""What services need from the outside world, as protocols adapters implement.

Services depend on these and nothing else: a unit of work with repositories, a code vault
for secrets, a password hasher, and a clock. Tests can pass fakes; production passes the
SQL adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, NamedTuple, Protocol, Self

from vouchers.domain.access import ApiKey, PrincipalKind, Session, StaffUser
from vouchers.domain.attempts import AttemptKind, Lockout, Subject
from vouchers.domain.customers import Customer
from vouchers.domain.exports import Encryption, ExportFormat, ExportRow
from vouchers.domain.ledger import EntryKind, Posting, Wallet
from vouchers.domain.lifecycle import BusinessDefinition
from vouchers.domain.lots import Lot
from vouchers.domain.redemptions import Redemption
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


class SealedVoucher(NamedTuple):
    """What an export reads of one voucher: its sealed secret and the printed fields."""

    number: int
    ciphertext: bytes
    data_key_id: int
    lookup_digest: bytes
    lookup_key_id: int
    type_id: int
    value_minor: int
    extra_value_minor: int
    currency: str
    effective_at: datetime
    expires_at: datetime


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
class VoucherQuery:
    """Filters of a voucher listing, references resolved to ids; every given one must hold.

    ``states`` are compared as of ``now`` (expiry derived); ``customer_id`` matches the
    customer a voucher was assigned to or redeemed by; ``text`` matches the code's last
    four characters exactly or the notes in part, ignoring case.
    """

    now: datetime
    states: frozenset[VoucherState] | None = None
    type_id: int | None = None
    number_from: int | None = None
    number_to: int | None = None
    customer_id: int | None = None
    text: str | None = None


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

    def open_checked(self, sealed: Iterable[Sequence[Any]]) -> list[str]:
        """The codes of many (number, ciphertext, data key id, lookup digest, lookup key id,
        …) rows, each checked against its digest; raises KeyMaterialError naming the first
        voucher that does not decrypt or match."""
        ...


class PasswordHasher(Protocol):
    """Hashes and checks staff passwords (Argon2 in production: adapters/passwords.py)."""

    def hash(self, password: str) -> str:
        """A self-describing hash (algorithm, parameters and salt included)."""
        ...

    def verify(self, password_hash: str, password: str) -> bool:
        """Whether ``password`` matches; False (never an error) for a wrong one."""
        ...

    def needs_rehash(self, password_hash: str) -> bool:
        """Whether the hash was made with other parameters than the current ones."""
        ...


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

    def prefixes(self) -> set[tuple[int, str | None]]:
        """(type id, lot prefix or None) of every lot: what the codes in use look like."""
        ...

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

    def restore_used(self, number: int, *, actor: str, at: datetime, note: str) -> None:
        """Used → activated again (a reversed redemption), with its history row."""
        ...

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

    def list(
        self,
        *,
        lot_id: int | None = None,
        after: int = 0,
        limit: int = 100,
        query: VoucherQuery | None = None,
    ) -> list[Voucher]:
        """Vouchers in number order after ``after`` (keyset pagination), matching ``query``."""
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
        """How many vouchers the run's history names, history rows and export ranges
        (proof that its transaction committed)."""
        ...

    def recent(self, *, limit: int = 50, before: int | None = None) -> list[ProcessRun]:
        """The newest runs (numbered below ``before``, when given), newest first."""
        ...

    def with_expired_files(self, now: datetime) -> list[ProcessRun]:
        """Runs that still hold a result file whose retention ended at or before ``now``."""
        ...


class ExportRepository(Protocol):
    def snapshot(self) -> None:
        """Make the open transaction read one consistent snapshot (call it first), so the
        count and every page of an export see the same vouchers."""
        ...

    def count(self, criteria: VoucherCriteria) -> int: ...

    def pages(
        self, criteria: VoucherCriteria, *, size: int
    ) -> Generator[Sequence[SealedVoucher], None, None]:
        """Matching vouchers with a secret, in number order, in pages of at most ``size``,
        read as they are taken; exhaust or close it before the transaction ends (it may
        hold a cursor open)."""
        ...

    def record(self, run_id: int, ranges: Sequence[tuple[int, int]], *, at: datetime) -> int:
        """Record that run ``run_id`` exported the numbers of ``ranges`` ((first, last),
        inclusive) at ``at``; how many vouchers they cover."""
        ...

    def covering(self, number: int) -> list[ExportRecord]:
        """Every recorded export of voucher ``number``, oldest first."""
        ...


@dataclass(frozen=True)
class ExportRecord:
    """One export run that wrote a voucher to its file."""

    run_id: int
    at: datetime
    by: str


@dataclass(frozen=True)
class ExportMeta:
    """What an export file says about itself (the XML root's attributes, the PDF title)."""

    run_id: int
    lot: str
    exported_at: datetime
    exported_by: str


class ExportFiles(Protocol):
    """Where export files are written, encrypted, kept and deleted."""

    def supports(self, export_format: ExportFormat) -> bool: ...

    def write(
        self,
        export_format: ExportFormat,
        rows: Iterable[ExportRow],
        *,
        meta: ExportMeta,
        encryption: Encryption,
        passphrase: str | None = None,
    ) -> str:
        """Write ``rows`` (read once, never held) to a new file readable by its owner only,
        encrypted as asked; return its path. Leaves no file behind when anything raises."""
        ...

    def delete(self, path: str) -> bool:
        """Remove a file (False if it was already gone)."""
        ...


class CounterRepository(Protocol):
    def allocate(self, name: str, count: int) -> int:
        """Reserve ``count`` consecutive values of a counter; return the first."""
        ...


@dataclass(frozen=True)
class VoucherTally:
    """Vouchers of one state (as of now) and currency, and the face value of those among
    them generated since the start of today and of this month (``DashboardRepository``)."""

    state: VoucherState
    currency: str
    count: int
    value_minor: int
    issued_today_minor: int
    issued_month_minor: int


@dataclass(frozen=True)
class RedeemedTally:
    """Completed redemptions of one currency since the start of today and of this month."""

    currency: str
    count_today: int
    value_today_minor: int
    bonus_today_minor: int
    count_month: int
    value_month_minor: int
    bonus_month_minor: int


class DashboardRepository(Protocol):
    """Aggregates for the staff console's dashboard and lot pages."""

    def voucher_tallies(
        self,
        *,
        now: datetime,
        day_start: datetime,
        month_start: datetime,
        lot_id: int | None = None,
    ) -> list[VoucherTally]:
        """Vouchers by state as of ``now`` and currency (of one lot, or all)."""
        ...

    def redeemed_tallies(
        self, *, day_start: datetime, month_start: datetime
    ) -> list[RedeemedTally]:
        """Completed redemptions since ``month_start`` by currency."""
        ...

    def active_lockouts(self, *, now: datetime, limit: int = 20) -> list[Lockout]:
        """Subjects locked out at ``now``, the latest to end first."""
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

    @property
    def exports(self) -> ExportRepository: ...

    @property
    def customers(self) -> CustomerRepository: ...

    @property
    def ledger(self) -> LedgerRepository: ...

    @property
    def redemptions(self) -> RedemptionRepository: ...

    @property
    def idempotency(self) -> IdempotencyRepository: ...

    @property
    def settings(self) -> SettingRepository: ...

    @property
    def attempts(self) -> AttemptRepository: ...

    @property
    def events(self) -> EventRepository: ...

    @property
    def users(self) -> StaffUserRepository: ...

    @property
    def api_keys(self) -> ApiKeyRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def dashboard(self) -> DashboardRepository: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...


@dataclass(frozen=True)
class JournalEntry:
    """A balanced set of postings, written at once; see vouchers.domain.ledger."""

    kind: EntryKind
    postings: tuple[Posting, ...]
    at: datetime
    by: str
    memo: str = ""
    redemption_id: int | None = None
    reference: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class StoredResult:
    """What an idempotency key remembers: which operation, a digest of its request, and
    the first result as JSON-ready data."""

    operation: str
    request_hash: str
    result: dict[str, Any]


class CustomerRepository(Protocol):
    def add(self, customer: Customer) -> Customer:
        """Store a new customer; raises DuplicateError for a taken external reference."""
        ...

    def get(self, ref: int | str) -> Customer:
        """By id or external reference; raises CustomerNotFoundError."""
        ...

    def find(self, external_ref: str) -> Customer | None: ...

    def lock(self, customer_id: int) -> None:
        """Hold the customer's row until the transaction ends (serialises per-customer rules)."""
        ...

    def update(self, customer: Customer) -> None: ...

    def list(self, *, after: str = "", limit: int = 100) -> list[Customer]:
        """Customers in external-reference order after ``after``."""
        ...

    def password_hash(self, customer_id: int) -> str | None:
        """The customer's portal password hash, None when staff never set one."""
        ...

    def set_password_hash(
        self, customer_id: int, password_hash: str, *, at: datetime, by: str
    ) -> None:
        """Store (or replace) the customer's portal password hash."""
        ...

    def claim_link(
        self, use_digest: bytes, *, customer_id: int, at: datetime, expires_at: datetime
    ) -> bool:
        """Remember a signed sign-in link as used until it expires; False when it was
        used already (a replay). Forgets links that expired before ``at``."""
        ...


class LedgerRepository(Protocol):
    def post(self, entry: JournalEntry) -> int:
        """Write the entry and apply its wallet postings to the balances; return its id.

        Raises InsufficientFundsError (and writes nothing) if a balance would go negative.
        """
        ...

    def wallet(self, customer_id: int, currency: str, *, for_update: bool = False) -> Wallet:
        """The customer's wallet in ``currency`` (empty if never credited)."""
        ...

    def wallets(self, customer_id: int) -> list[Wallet]: ...

    def entries(
        self, *, customer_id: int | None = None, before: int | None = None, limit: int = 50
    ) -> list[JournalEntry]:
        """Newest first, keyset-paged by id."""
        ...

    def unbalanced_entries(self) -> list[tuple[int, str, int]]:
        """(entry id, currency, sum) of every entry whose postings do not sum to zero."""
        ...

    def wallet_mismatches(self) -> list[tuple[int, str, int, int, int, int]]:
        """(customer, currency, paid, paid from journal, bonus, bonus from journal) for every
        wallet whose stored balances differ from the sums of its postings."""
        ...

    def totals(self) -> dict[tuple[str, str], int]:
        """The balance of every account in every currency, from the journal."""
        ...


@dataclass(frozen=True)
class RedemptionContext:
    """What a redemption decides on, read together (one round trip where the driver can)."""

    lockouts: list[Lockout]
    voucher: Voucher | None
    voucher_type: VoucherType | None
    settings: dict[str, str]
    customer: Customer | None
    stored_result: StoredResult | None = None


@dataclass(frozen=True)
class RecordedRedemption:
    """A stored redemption and the wallet's balances right after it."""

    redemption: Redemption
    balance_paid_minor: int
    balance_bonus_minor: int


class RedemptionRepository(Protocol):
    def context(
        self,
        *,
        digests: Sequence[bytes],
        customer_ref: str,
        subjects: Sequence[Subject],
        now: datetime,
        idempotency: tuple[str, str] | None = None,
    ) -> RedemptionContext:
        """The running lock-outs of ``subjects``, the voucher with one of ``digests`` and its
        type, the settings, the customer, and the result stored under (caller, key)."""
        ...

    def record(
        self,
        redemption: Redemption,
        entry: JournalEntry,
        history: HistoryEntry,
        *,
        events: Sequence[tuple[str, dict[str, Any]]] = (),
    ) -> RecordedRedemption | None:
        """Consume the voucher with one conditional update and, only if that succeeded,
        write the redemption, its journal entry (applied to the wallet), the history row
        and the events (each payload gets the new ``redemption_id``). Return the stored
        redemption with the wallet's new balances, or None when the voucher was no longer
        activated (nothing was written)."""
        ...

    def get(self, redemption_id: int, *, for_update: bool = False) -> Redemption:
        """Raises RedemptionNotFoundError."""
        ...

    def count_for(self, customer_id: int, *, type_id: int | None, lot_id: int | None) -> int:
        """Completed redemptions of the customer, of a type or of a lot."""
        ...

    def has_completed(self, customer_id: int) -> bool: ...

    def for_customer(self, customer_id: int, *, limit: int = 50) -> list[Redemption]: ...

    def mark_reversed(self, redemption_id: int, *, at: datetime, by: str) -> bool:
        """Completed → reversed; False if it was not completed any more."""
        ...


class IdempotencyRepository(Protocol):
    def get(self, caller: str, key: str) -> StoredResult | None: ...

    def add(self, caller: str, key: str, stored: StoredResult, *, at: datetime) -> None:
        """Remember a result; raises DuplicateError when the key was taken meanwhile."""
        ...


class SettingRepository(Protocol):
    def all(self) -> dict[str, str]: ...

    def set(self, key: str, value: str | None, *, at: datetime, by: str) -> str | None:
        """Store (None: delete) a setting and record the change; return the old value."""
        ...

    def changes(self, *, limit: int = 50) -> list[dict[str, Any]]: ...


class AttemptRepository(Protocol):
    def record(self, kind: AttemptKind, subjects: Sequence[Subject], *, at: datetime) -> None: ...

    def count(self, subject: Subject, kind: AttemptKind, *, since: datetime) -> int: ...

    def lockouts(self, subjects: Sequence[Subject], *, now: datetime) -> list[Lockout]:
        """The lock-outs of these subjects still running at ``now``."""
        ...

    def last_lockout(self, subject: Subject) -> Lockout | None: ...

    def lock(self, lockout: Lockout) -> None: ...

    def clear(self, subject: Subject) -> None: ...


class EventRepository(Protocol):
    def add(self, event_type: str, payload: dict[str, Any], *, at: datetime) -> None:
        """Put an event in the outbox, in the current transaction."""
        ...

    def recent(self, *, event_type: str | None = None, limit: int = 50) -> list[dict[str, Any]]: ...


class StaffUserRepository(Protocol):
    def add(self, user: StaffUser) -> StaffUser:
        """Store a new user and return it with its id; raises DuplicateError."""
        ...

    def get(self, username: str) -> StaffUser:
        """Raises UserNotFoundError."""
        ...

    def find(self, username: str) -> StaffUser | None: ...

    def update(self, user: StaffUser) -> None:
        """Store display name, roles, password hash, its change time and the active flag."""
        ...

    def list(self) -> list[StaffUser]:
        """Every user in username order."""
        ...


class SessionRepository(Protocol):
    def add(self, session: Session) -> None:
        """Store a new session."""
        ...

    def find(self, id_digest: bytes) -> Session | None:
        """By the digest of its id."""
        ...

    def revoke(self, id_digest: bytes, *, at: datetime) -> None:
        """End one session (nothing if it is unknown or ended already)."""
        ...

    def revoke_all(self, kind: PrincipalKind, name: str, *, at: datetime) -> int:
        """End every live session of a user or customer; how many were live."""
        ...

    def prune(self, *, before: datetime) -> int:
        """Forget sessions that expired before ``before``; how many."""
        ...


class ApiKeyRepository(Protocol):
    def add(self, key: ApiKey) -> ApiKey:
        """Store a new key and return it with its id; raises DuplicateError for a taken
        name (or key id)."""
        ...

    def get(self, name: str) -> ApiKey:
        """By name; raises ApiKeyNotFoundError."""
        ...

    def find(self, key_id: str) -> ApiKey | None:
        """By the public key id of a presented key."""
        ...

    def revoke(self, name: str, *, at: datetime, by: str) -> bool:
        """Mark the key revoked; False if it already was. Raises ApiKeyNotFoundError."""
        ...

    def list(self) -> list[ApiKey]:
        """Every key (revoked ones too) in name order."""
        ...
