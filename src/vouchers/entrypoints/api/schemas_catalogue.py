"""Request and response schemas of the catalogue and life-cycle routes — business
definitions, lots, vouchers and process runs — and the field types and helpers they share
with the voucher types' schemas (which sit in ``types``).

``<Thing>Create`` / ``<Thing>Update`` parse what a client sends (unknown fields refused,
lengths bounded, strict scalars); ``<Thing>Public`` is what the API answers, built from the
domain object with ``of`` and spelled like the CLI's ``--json`` output. Amounts travel as
text (``"50.00"``, or ``"50.00 USD"``), never as floats.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from vouchers.domain.lifecycle import BusinessDefinition, Process, parse_states
from vouchers.domain.lots import Lot
from vouchers.domain.money import Currency, Money, format_minor
from vouchers.domain.runs import ProcessRun
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import AmountError
from vouchers.services.ports import HistoryEntry
from vouchers.services.vouchers import VoucherView

# Text a person or a host platform sends: one line without control characters, or (notes)
# lines of it. PostgreSQL cannot store NUL at all; SQLite would, and nobody could see it.
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
MULTILINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
MAX_ID = 2**63 - 1  # the largest BIGINT; ids and numbers above it cannot exist

Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=PRINTABLE)]
Notes = Annotated[str, Field(max_length=2000, pattern=MULTILINE)]
Amount = Annotated[str, Field(min_length=1, max_length=40, examples=["50.00"], pattern=PRINTABLE)]
Word = Annotated[str, Field(min_length=1, max_length=64, pattern=PRINTABLE)]
Ref = Annotated[
    str,
    Field(min_length=1, max_length=32, pattern=PRINTABLE, description="Alternative code or id."),
]
Number = Annotated[StrictInt, Field(ge=1, le=2**62)]
Count = Annotated[StrictInt, Field(ge=1, le=100_000_000)]
Days = Annotated[StrictInt, Field(ge=1, le=36_500)]


def parse_ref(text: str | int) -> int | str:
    """A reference as services take it: digits are an id, anything else a code."""
    if isinstance(text, int):
        return text
    stripped = text.strip()
    if stripped.isascii() and stripped.isdigit() and int(stripped) <= MAX_ID:
        return int(stripped)
    return stripped  # a code (one of only digits too long for an id matches no code either)


def money(minor: int | None, code: str) -> str | None:
    return None if minor is None else format_minor(minor, code)


class Input(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# -- business definitions -----------------------------------------------------------------

StateList = Annotated[list[VoucherState], Field(max_length=len(VoucherState))]


class DefinitionCreate(Input):
    """A business definition; a process left out keeps its default states."""

    name: Name
    alternative_code: Code
    modification: StateList | None = None
    activation: StateList | None = None
    cancellation: StateList | None = None
    purging: StateList | None = None
    export: StateList | None = None
    activate: StrictBool = False

    def to_domain(self) -> BusinessDefinition:
        given = {
            Process.MODIFY: self.modification,
            Process.ACTIVATE: self.activation,
            Process.CANCEL: self.cancellation,
            Process.PURGE: self.purging,
            Process.EXPORT: self.export,
        }
        return BusinessDefinition(
            alternative_code=self.alternative_code,
            name=self.name,
            restrictions={
                process: parse_states(states)
                for process, states in given.items()
                if states is not None
            },
        )


class DefinitionPublic(BaseModel):
    id: int | None
    alternative_code: str
    name: str
    active: bool
    restrictions: dict[str, list[str]]

    @classmethod
    def of(cls, bd: BusinessDefinition) -> DefinitionPublic:
        return cls(
            id=bd.id,
            alternative_code=bd.alternative_code,
            name=bd.name,
            active=bd.active,
            restrictions={
                str(process): sorted(str(s) for s in states)
                for process, states in sorted(bd.restrictions.items())
            },
        )


# -- lots ---------------------------------------------------------------------------------


class Scheduled(Input):
    """Run now (the default), or queue the run for a worker at ``scheduled_for``."""

    scheduled_for: AwareDatetime | None = None


class LotCreate(Input):
    """A draft lot; amounts only for variable-value types, in the type's currency."""

    type: Ref
    count: Count
    alternative_code: Code | None = None
    value: Amount | None = None
    extra_value: Amount | None = None
    effective_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    validity_days: Days | None = None
    prefix: Annotated[str, Field(min_length=1, max_length=16)] | None = None
    description: Notes = ""


class LotAmend(Scheduled):
    count: Count


class Modification(Scheduled):
    """A new type (same currency and value) or validity dates; never a value."""

    type: Ref | None = None
    effective_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None

    def extra(self) -> dict[str, Any]:
        """The modify part of a run's criteria."""
        return {
            "type_ref": None if self.type is None else parse_ref(self.type),
            "effective_at": self.effective_at,
            "expires_at": self.expires_at,
        }


class LotPublic(BaseModel):
    id: int | None
    alternative_code: str
    type: str | None
    type_id: int
    count: int
    generated_count: int
    state: str
    value: str | None
    extra_value: str | None
    currency: str
    effective_at: datetime
    expires_at: datetime
    prefix: str | None
    description: str
    created_at: datetime | None
    created_by: str | None
    posted_at: datetime | None

    @classmethod
    def of(cls, lt: Lot) -> LotPublic:
        return cls(
            id=lt.id,
            alternative_code=lt.alternative_code,
            type=lt.type_code,
            type_id=lt.type_id,
            count=lt.count,
            generated_count=lt.generated_count,
            state=str(lt.state),
            value=money(lt.value_minor, lt.currency),
            extra_value=money(lt.extra_value_minor, lt.currency),
            currency=lt.currency,
            effective_at=lt.effective_at,
            expires_at=lt.expires_at,
            prefix=lt.prefix,
            description=lt.description,
            created_at=lt.created_at,
            created_by=lt.created_by,
            posted_at=lt.posted_at,
        )


# -- vouchers -----------------------------------------------------------------------------


class VoucherPublic(BaseModel):
    """A voucher as staff see it: the code masked to its last four characters."""

    number: int
    code: str | None
    state: str
    lot_id: int
    type_id: int
    value: str | None
    extra_value: str | None
    currency: str
    effective_at: datetime
    expires_at: datetime
    customer_id: int | None
    used_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, view: VoucherView) -> VoucherPublic:
        v = view.voucher
        return cls(
            number=v.number,
            code=view.masked_code,
            state=str(view.state),
            lot_id=v.lot_id,
            type_id=v.type_id,
            value=money(v.value_minor, v.currency),
            extra_value=money(v.extra_value_minor, v.currency),
            currency=v.currency,
            effective_at=v.effective_at,
            expires_at=v.expires_at,
            customer_id=v.customer_id,
            used_at=v.used_at,
            created_at=v.created_at,
        )


class VoucherPage(BaseModel):
    """One page in number order; pass ``next`` as ``after`` for the following page."""

    items: list[VoucherPublic]
    next: int | None


class HistoryEntryPublic(BaseModel):
    at: datetime
    process: str
    field: str
    from_value: str | None
    to_value: str | None
    by: str
    note: str | None
    run_id: int | None

    @classmethod
    def of(cls, entry: HistoryEntry) -> HistoryEntryPublic:
        return cls(
            at=entry.at,
            process=entry.process,
            field=entry.field,
            from_value=entry.from_value,
            to_value=entry.to_value,
            by=entry.by,
            note=entry.note,
            run_id=entry.run_id,
        )


class RevealCreate(Input):
    """Why the code is shown; kept in the voucher's history."""

    reason: Annotated[str, Field(min_length=1, max_length=500, pattern=PRINTABLE)]


class RevealPublic(BaseModel):
    number: int
    code: str


# -- process runs -------------------------------------------------------------------------


class BulkSelection(Scheduled):
    """Which vouchers a bulk process addresses; every part given must hold."""

    lot: Ref | None = None
    type: Ref | None = None
    number_from: Number | None = None
    number_to: Number | None = None


class CancellationCreate(BulkSelection):
    number: Number | None = None


class PurgeCreate(BulkSelection):
    states: StateList | None = None
    days_after_expiration: Annotated[StrictInt, Field(ge=0, le=36_500)] | None = None


class ExportCreate(Scheduled):
    """An export of a lot's activated vouchers, codes in clear, for the print house.

    Encrypt with age under the passphrase held in the server's environment variable
    ``passphrase_env``, or to age / SSH ``recipients``; not both.
    """

    lot: Ref
    format: Literal["csv", "xlsx", "xml", "pdf"]
    passphrase_env: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    recipients: Annotated[list[Annotated[str, Field(max_length=1000)]], Field(max_length=50)] = []


class RunPublic(BaseModel):
    id: int | None
    process: str
    criteria: dict[str, Any]
    status: str
    scheduled_for: datetime
    requested_by: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    done: int
    total: int | None
    count: int | None
    error: str | None
    approved_by: str | None
    approved_at: datetime | None
    file_available: bool
    file_expires_at: datetime | None

    @classmethod
    def of(cls, run: ProcessRun) -> RunPublic:
        return cls(
            id=run.id,
            process=run.process,
            criteria=run.criteria,
            status=str(run.status),
            scheduled_for=run.scheduled_for,
            requested_by=run.requested_by,
            requested_at=run.requested_at,
            started_at=run.started_at,
            finished_at=run.finished_at,
            done=run.done,
            total=run.total,
            count=run.count,
            error=run.error,
            approved_by=run.approved_by,
            approved_at=run.approved_at,
            file_available=run.result_file is not None,
            file_expires_at=run.file_expires_at,
        )


def amount_minor(text: str | None, cur: Currency) -> int | None:
    """An amount in ``cur`` as minor units; raises AmountError (another currency too)."""
    return None if text is None else _minor(text, cur)


def _minor(text: str, cur: Currency) -> int:
    amount = Money.parse(text, cur)
    if amount.currency != cur:
        raise AmountError(f"{text!r} is not in {cur.code}")
    return amount.minor


def upper_all(items: list[str]) -> tuple[str, ...]:
    """Product and product-type names as stored: upper-case, blanks dropped."""
    return tuple(item.strip().upper() for item in items if item.strip())
