"""Exports of a lot's secrets for the print house: formats, columns, rows and encryption.

An export is a process run (DESIGN.md §4, the export row): the activated vouchers of one
lot, each with its code in clear, written as CSV, XLSX, XML or a PDF print sheet, and
optionally encrypted for the print house (age: a passphrase or recipient public keys).
This module holds what is pure: the formats, the column order every format shares, one
row, how amounts and moments are written, and the encryption request as a run stores it.
The passphrase itself is never stored: a run names the environment variable holding it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from vouchers.errors import ValidationError


class ExportFormat(StrEnum):
    """The file formats an export writes."""

    CSV = "csv"
    XLSX = "xlsx"
    XML = "xml"
    PDF = "pdf"

    @property
    def suffix(self) -> str:
        return "." + self.value


COLUMNS: tuple[str, ...] = (
    "number",
    "code",
    "code_grouped",
    "value",
    "extra_value",
    "currency",
    "effective_at",
    "expires_at",
    "lot",
    "type",
)
"""The header of CSV and XLSX, and the element order of XML (docs/exports.md)."""

XLSX_MAX_ROWS = 1_048_575
"""An Excel sheet holds 1,048,576 rows, one of them the header."""


class ExportRow(NamedTuple):
    """One exported voucher, every field already text (numbers as written in the file)."""

    number: int
    code: str
    code_grouped: str
    value: str
    extra_value: str
    currency: str
    effective_at: str
    expires_at: str
    lot: str
    type: str


def amount_text(minor: int, exponent: int) -> str:
    """Minor units as a plain decimal with the currency's digits: 5000, 2 → ``50.00``."""
    if exponent == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    units, fraction = divmod(abs(minor), 10**exponent)
    return f"{sign}{units}.{fraction:0{exponent}d}"


def moment_text(moment: datetime) -> str:
    """A moment as ISO 8601 in UTC with a ``Z``: ``2026-11-27T12:00:00Z``."""
    utc = moment.astimezone(UTC)
    text = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return text.removesuffix("+00:00") + "Z"


class EncryptionKind(StrEnum):
    """How the export file is encrypted for the print house."""

    NONE = "none"
    PASSPHRASE = "passphrase"  # noqa: S105 (the name of a mode, not a secret)
    RECIPIENTS = "recipients"


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_AGE_RECIPIENT = re.compile(r"age1[02-9ac-hj-np-z]{58}")
_SSH_RECIPIENT = re.compile(r"(ssh-ed25519|ssh-rsa) [A-Za-z0-9+/=]+( .*)?")


@dataclass(frozen=True)
class Encryption:
    """How to encrypt an export: not at all, with the passphrase in an environment
    variable (``passphrase_env``), or to age/SSH recipient public keys."""

    kind: EncryptionKind = EncryptionKind.NONE
    passphrase_env: str | None = None
    recipients: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind is EncryptionKind.PASSPHRASE:
            if self.passphrase_env is None or not _ENV_NAME.fullmatch(self.passphrase_env):
                raise ValidationError("name the environment variable holding the passphrase")
        elif self.kind is EncryptionKind.RECIPIENTS:
            if not self.recipients:
                raise ValidationError("the recipient key file lists no public key")
            for key in self.recipients:
                if not (_AGE_RECIPIENT.fullmatch(key) or _SSH_RECIPIENT.fullmatch(key)):
                    raise ValidationError(
                        f"{key[:24]!r}… is not an age (age1…) or SSH (ssh-ed25519, ssh-rsa) "
                        "public key"
                    )
        elif self.passphrase_env is not None or self.recipients:
            raise ValidationError("choose one encryption: a passphrase or recipient keys")

    @property
    def suffix(self) -> str:
        """What the file name gains: ``.age`` when encrypted."""
        return "" if self.kind is EncryptionKind.NONE else ".age"

    def as_criteria(self) -> dict[str, Any]:
        """The JSON a run stores (a passphrase never: only the variable's name)."""
        if self.kind is EncryptionKind.PASSPHRASE:
            return {"encrypt": self.kind.value, "passphrase_env": self.passphrase_env}
        if self.kind is EncryptionKind.RECIPIENTS:
            return {"encrypt": self.kind.value, "recipients": list(self.recipients)}
        return {}

    @classmethod
    def from_criteria(cls, criteria: Mapping[str, Any]) -> Encryption:
        """The inverse of :meth:`as_criteria`; raises ValidationError."""
        try:
            kind = EncryptionKind(criteria.get("encrypt", EncryptionKind.NONE.value))
        except ValueError:
            raise ValidationError(f"unknown encryption {criteria.get('encrypt')!r}") from None
        recipients = criteria.get("recipients") or ()
        if isinstance(recipients, str) or not isinstance(recipients, Sequence):
            raise ValidationError("recipients must be a list of public keys")
        return cls(kind, criteria.get("passphrase_env"), tuple(str(r) for r in recipients))


def parse_recipients(text: str) -> tuple[str, ...]:
    """Public keys from a recipients file: one a line, ``#`` comments and blanks ignored
    (age's own recipients-file format). Raises ValidationError for anything else."""
    keys = tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
    return Encryption(EncryptionKind.RECIPIENTS, recipients=keys).recipients


def parse_format(text: str) -> ExportFormat:
    """A format by name; raises ValidationError."""
    try:
        return ExportFormat(text.strip().lower())
    except ValueError:
        names = ", ".join(f.value for f in ExportFormat)
        raise ValidationError(f"export format is one of {names}, not {text!r}") from None


def file_expiry(finished_at: datetime, retention_days: int) -> datetime:
    """When an export file made at ``finished_at`` is deleted."""
    return finished_at + timedelta(days=retention_days)


def export_note(run_id: int, actor: str) -> str:
    """The history note of every exported voucher."""
    return f"exported in run {run_id} by {actor}"


class NumberRanges:
    """Voucher numbers collapsed into ranges of consecutive numbers, fed page by page.

    An export streams its vouchers in number order; what it wrote is recorded as
    ``(first, last)`` ranges (inclusive), one per run of consecutive numbers: a fresh lot
    is one range, and each voucher left out (cancelled, used, expired …) splits one in
    two. Numbers must come strictly increasing, across pages too.
    """

    def __init__(self) -> None:
        self.ranges: list[tuple[int, int]] = []
        self.count = 0

    def add(self, numbers: Sequence[int]) -> None:
        """Add a page of strictly increasing numbers, all above those added before;
        raises ValueError otherwise (a page without gaps is taken whole, unchecked)."""
        if not numbers:
            return
        first, last = numbers[0], numbers[-1]
        if self.ranges and first <= self.ranges[-1][1]:
            raise ValueError(f"number {first} does not follow {self.ranges[-1][1]}")
        self.count += len(numbers)
        if last - first == len(numbers) - 1:  # no gap: the usual page of a lot
            self._extend(first, last)
            return
        start = previous = first
        for number in numbers[1:]:
            if number <= previous:
                raise ValueError(f"number {number} does not follow {previous}")
            if number != previous + 1:
                self._extend(start, previous)
                start = number
            previous = number
        self._extend(start, previous)

    def _extend(self, first: int, last: int) -> None:
        if self.ranges and self.ranges[-1][1] + 1 == first:
            self.ranges[-1] = (self.ranges[-1][0], last)
        else:
            self.ranges.append((first, last))


def number_ranges(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Strictly increasing ``numbers`` as ranges of consecutive numbers (first, last)."""
    collected = NumberRanges()
    collected.add(list(numbers))
    return collected.ranges
