"""Importing codes from another system: reading the file and checking every row.

A file is CSV with a header row: ``code`` is required; ``value`` (an amount, in the
type's currency unless it names one), ``expires_at`` (also ``expiry``/``expires``, an ISO
8601 date or time; a date alone is midnight UTC) and ``prefix`` (the code's non-secret
prefix, which must begin the code) are optional; other columns are ignored and reported.
Every row is checked against the voucher type's code format (alphabet, length, prefix,
check character: a weak digits format with ``allow_weak`` and no check character reads a
refill-coupon table of 7-digit pins), and for duplicates within the file. Rejections name
the line and the reason, never the code. Whether a code exists already is the service's
question: it needs storage.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from vouchers.domain.codes import CodeFormat
from vouchers.domain.money import Currency, Money
from vouchers.errors import (
    AmountError,
    CodeFormatError,
    CurrencyError,
    MalformedCodeError,
    ValidationError,
)

MAX_IMPORT_ROWS = 1_000_000
CODE_COLUMN = "code"
COLUMN_ALIASES = {
    "code": "code",
    "value": "value",
    "expires_at": "expires_at",
    "expiry": "expires_at",
    "expires": "expires_at",
    "prefix": "prefix",
}


class RejectReason(StrEnum):
    """Why a row of an import file was refused."""

    MISSING_CODE = "missing_code"
    ALPHABET = "alphabet"
    LENGTH = "length"
    PREFIX = "prefix"
    CHECK = "check"
    DUPLICATE_IN_FILE = "duplicate_in_file"
    ALREADY_EXISTS = "already_exists"
    VALUE = "value"
    EXPIRY = "expiry"


@dataclass(frozen=True)
class ImportRow:
    """One data row as read, with its line number in the file (the header is line 1)."""

    line: int
    code: str
    value: str = ""
    expires_at: str = ""
    prefix: str = ""


@dataclass(frozen=True)
class ImportFile:
    """The rows of an import file and the columns it had that an import does not read."""

    rows: list[ImportRow]
    ignored_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class RejectedRow:
    """A refused row: its line, the reason and a message that never repeats the code."""

    line: int
    reason: RejectReason
    message: str


@dataclass(frozen=True)
class AcceptedRow:
    """A row that passed: its canonical code and the lot values it asks for."""

    line: int
    code: str
    value_minor: int | None
    expires_at: datetime | None
    prefix: str | None

    @property
    def lot_key(self) -> tuple[int | None, datetime | None, str | None]:
        """Rows with the same key go into the same lot."""
        return (self.value_minor, self.expires_at, self.prefix)


def read_csv(text: str) -> ImportFile:
    """Parse CSV ``text`` (comma, semicolon or tab separated) with a header row.

    Blank lines are skipped. Raises ValidationError for a file without a header or a
    ``code`` column, or with more than ``MAX_IMPORT_ROWS`` rows.
    """
    text = text.removeprefix("\ufeff")
    sample = "\n".join(text.splitlines()[:20])
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, ",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if not header:
        raise ValidationError("the import file is empty; it needs a header row with 'code'")
    names = [COLUMN_ALIASES.get(name.strip().lower(), "") for name in header]
    if CODE_COLUMN not in names:
        raise ValidationError("the import file has no 'code' column in its header row")
    ignored = tuple(h.strip() for h, name in zip(header, names, strict=True) if not name)
    rows: list[ImportRow] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) == MAX_IMPORT_ROWS:
            raise ValidationError(f"an import holds at most {MAX_IMPORT_ROWS:,} rows")
        fields = {name: cell.strip() for name, cell in zip(names, cells, strict=False) if name}
        rows.append(ImportRow(line=reader.line_num, **fields))
    return ImportFile(rows, ignored)


def check_rows(
    rows: Iterable[ImportRow],
    *,
    code_format: CodeFormat,
    currency: Currency,
    now: datetime,
    fixed_value_minor: int | None = None,
    default_value_minor: int | None = None,
) -> tuple[list[AcceptedRow], list[RejectedRow]]:
    """Check every row; return the accepted rows and the rejected ones, in file order.

    ``code_format`` is the type's; a row's prefix replaces the format's prefix. For a type
    with a fixed value (``fixed_value_minor``) a row's value must be that value; otherwise
    a row without a value takes ``default_value_minor`` and is refused when there is none.
    A row's expiry must lie after ``now``. Codes repeated within the file are refused from
    their second occurrence on.
    """
    formats: dict[str, CodeFormat | None] = {}
    first_line: dict[str, int] = {}
    accepted: list[AcceptedRow] = []
    rejected: list[RejectedRow] = []
    for row in rows:
        try:
            fmt = _format_for(row.prefix, code_format, formats)
            code = _parse_code(row.code, fmt)
            value = _value(row.value, currency, fixed_value_minor, default_value_minor)
            expires_at = _expiry(row.expires_at, now)
        except _Rejection as exc:
            rejected.append(RejectedRow(row.line, exc.reason, exc.message))
            continue
        if code in first_line:
            rejected.append(
                RejectedRow(
                    row.line,
                    RejectReason.DUPLICATE_IN_FILE,
                    f"the same code as line {first_line[code]}",
                )
            )
            continue
        first_line[code] = row.line
        prefix = fmt.prefix if row.prefix else None
        accepted.append(AcceptedRow(row.line, code, value, expires_at, prefix))
    return accepted, rejected


def group_rows(rows: Sequence[AcceptedRow]) -> list[list[AcceptedRow]]:
    """Accepted rows by lot (same value, expiry and prefix), in order of first appearance."""
    groups: dict[tuple[int | None, datetime | None, str | None], list[AcceptedRow]] = {}
    for row in rows:
        groups.setdefault(row.lot_key, []).append(row)
    return list(groups.values())


class _Rejection(Exception):  # internal control flow, never escapes
    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _format_for(
    prefix: str, code_format: CodeFormat, cache: dict[str, CodeFormat | None]
) -> CodeFormat:
    if not prefix:
        return code_format
    if prefix not in cache:
        try:
            cache[prefix] = dataclasses.replace(code_format, prefix=prefix)
        except CodeFormatError:
            cache[prefix] = None
    fmt = cache[prefix]
    if fmt is None:
        raise _Rejection(RejectReason.PREFIX, "the prefix does not fit the type's code format")
    return fmt


def _parse_code(text: str, fmt: CodeFormat) -> str:
    if not text.strip():
        raise _Rejection(RejectReason.MISSING_CODE, "the row has no code")
    try:
        return fmt.parse(text)
    except MalformedCodeError as exc:
        return _raise_malformed(exc)


def _raise_malformed(exc: MalformedCodeError) -> str:
    reason = {
        "alphabet": RejectReason.ALPHABET,
        "length": RejectReason.LENGTH,
        "prefix": RejectReason.PREFIX,
        "check": RejectReason.CHECK,
    }.get(exc.reason, RejectReason.ALPHABET)
    raise _Rejection(reason, exc.message) from exc


def _value(
    text: str, currency: Currency, fixed_minor: int | None, default_minor: int | None
) -> int | None:
    if not text:
        if fixed_minor is None and default_minor is None:
            raise _Rejection(
                RejectReason.VALUE, "the type's value is variable: the row needs a value"
            )
        return None if fixed_minor is not None else default_minor
    try:
        money = Money.parse(text, currency)
    except (AmountError, CurrencyError) as exc:
        raise _Rejection(RejectReason.VALUE, f"the value is not an amount: {exc}") from exc
    if money.currency != currency:
        raise _Rejection(RejectReason.VALUE, f"the value is not in {currency.code}")
    if money.minor <= 0:
        raise _Rejection(RejectReason.VALUE, "the value must be positive")
    if fixed_minor is not None and money.minor != fixed_minor:
        raise _Rejection(
            RejectReason.VALUE, f"the type's value is fixed at {Money(fixed_minor, currency)}"
        )
    return None if fixed_minor is not None else money.minor


def _expiry(text: str, now: datetime) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _Rejection(
            RejectReason.EXPIRY, "the expiry is not an ISO 8601 date (such as 2027-12-31)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if moment <= now:
        raise _Rejection(RejectReason.EXPIRY, "the expiry date has passed")
    return moment
