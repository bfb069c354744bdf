"""Use case: import codes from another system into new lots of a voucher type.

The file is read and every row checked (see :mod:`vouchers.domain.imports`): format,
duplicates within the file, and codes that already exist here (looked up by digest under
every live lookup key, in batches). With any row refused nothing is imported, unless
``skip_invalid`` asks for the valid rows alone. Accepted codes are sealed like generated
ones (lookup digest and AES-GCM ciphertext bound to the number) and written in one
transaction: one new lot per distinct (value, expiry, prefix), usually just one, numbered
from one contiguous block and posted in the same transaction, so an import is either
complete or absent. The unique digest index stays the guard: a code stored by someone else
between the check and the write makes the whole import fail with ConflictError.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from vouchers.domain.imports import (
    AcceptedRow,
    ImportFile,
    RejectedRow,
    RejectReason,
    check_rows,
    group_rows,
    read_csv,
)
from vouchers.domain.lots import Lot, new_lot
from vouchers.domain.settings import OperatorSettings
from vouchers.domain.voucher_types import ValueOption, VoucherType
from vouchers.domain.vouchers import VoucherState, code_tail
from vouchers.errors import ConflictError, ValidationError
from vouchers.services.ports import Clock, CodeVault, NewVouchers, UnitOfWork

_LOOKUP_BATCH = 500
_TYPE_CODE_IN_LOT_CODE = 25


@dataclass(frozen=True)
class ImportReport:
    """What an import did: rows read, codes imported, the lots it made, and every refusal."""

    rows: int
    imported: int
    rejected: list[RejectedRow]
    lots: list[Lot] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether every row of the file was imported."""
        return self.imported == self.rows


def import_csv(
    text: str,
    *,
    type_ref: int | str,
    uow: UnitOfWork,
    vault: CodeVault,
    clock: Clock,
    actor: str,
    lot_code: str | None = None,
    skip_invalid: bool = False,
    value_minor: int | None = None,
    expires_at: datetime | None = None,
    description: str = "",
) -> ImportReport:
    """Import the codes of a CSV file (see :func:`import_codes`); raises ValidationError
    for a file without a header or ``code`` column."""
    return import_codes(
        read_csv(text),
        type_ref=type_ref,
        uow=uow,
        vault=vault,
        clock=clock,
        actor=actor,
        lot_code=lot_code,
        skip_invalid=skip_invalid,
        value_minor=value_minor,
        expires_at=expires_at,
        description=description,
    )


def import_codes(
    source: ImportFile,
    *,
    type_ref: int | str,
    uow: UnitOfWork,
    vault: CodeVault,
    clock: Clock,
    actor: str,
    lot_code: str | None = None,
    skip_invalid: bool = False,
    value_minor: int | None = None,
    expires_at: datetime | None = None,
    description: str = "",
) -> ImportReport:
    """Import ``source``'s rows as vouchers of type ``type_ref`` into new posted lots.

    ``lot_code`` names the new lot (``<lot_code>-<n>`` when rows ask for several lots);
    ``value_minor`` is the value of rows without one (variable-value types), and
    ``expires_at`` the expiry of rows without one (else the type's validity or the
    operator's default). Returns the report; ``imported`` is 0 when a row was refused and
    ``skip_invalid`` is false. Raises ValidationError for an empty file or lot values that
    do not fit the type, VoucherTypeNotFoundError, DuplicateError for a taken lot code,
    ConflictError when a code was stored by someone else meanwhile.
    """
    if not source.rows:
        raise ValidationError("the import file has no rows")
    now = clock()
    with uow:
        voucher_type = uow.voucher_types.get(type_ref)
        fixed = voucher_type.value_minor if voucher_type.value_option is ValueOption.FIXED else None
        accepted, rejected = check_rows(
            source.rows,
            code_format=voucher_type.code_format,
            currency=voucher_type.currency,
            now=now,
            fixed_value_minor=fixed,
            default_value_minor=value_minor,
        )
        existing = _existing(uow, vault, [row.code for row in accepted])
        rejected += [
            RejectedRow(row.line, RejectReason.ALREADY_EXISTS, "a voucher with this code exists")
            for row in accepted
            if row.code in existing
        ]
        accepted = [row for row in accepted if row.code not in existing]
        rejected.sort(key=lambda row: row.line)
        report = ImportReport(len(source.rows), 0, rejected, [], source.ignored_columns)
        if not accepted or (rejected and not skip_invalid):
            return report
        validity_days = _default_validity(uow, voucher_type, expires_at)
        groups = group_rows(accepted)
        lots = []
        for index, group in enumerate(groups, start=1):
            first = group[0]
            lot = new_lot(
                voucher_type,
                alternative_code=_lot_code(uow, voucher_type, lot_code, index, len(groups)),
                count=len(group),
                now=now,
                value_minor=first.value_minor,
                expires_at=first.expires_at or expires_at,
                validity_days=validity_days,
                prefix=first.prefix,
                description=description or f"imported: {len(group):,} codes",
                created_by=actor,
            )
            lots.append(uow.lots.add(lot))
        number = uow.counters.allocate("voucher", len(accepted))
        state = VoucherState.ACTIVATED if voucher_type.auto_activate else VoucherState.DRAFT
        for lot, group in zip(lots, groups, strict=True):
            _write_lot(uow, vault, lot, group, number, state, now, actor)
            number += len(group)
        uow.commit()
    stored = [_stored_lot(uow, lot) for lot in lots]
    return ImportReport(len(source.rows), len(accepted), rejected, stored, source.ignored_columns)


def _stored_lot(uow: UnitOfWork, lot: Lot) -> Lot:
    """The lot as stored now (posted, numbered)."""
    with uow:
        return uow.lots.get(lot.require_id())


def _write_lot(
    uow: UnitOfWork,
    vault: CodeVault,
    lot: Lot,
    group: Sequence[AcceptedRow],
    first_number: int,
    state: VoucherState,
    now: datetime,
    actor: str,
) -> None:
    lot_id = lot.require_id()
    uow.lots.assign_numbers(lot_id, first_number, by=actor)
    codes = [row.code for row in group]
    digests, ciphertexts = vault.seal_many(first_number, codes)
    refused = uow.vouchers.add_generated(
        NewVouchers(
            lot=lot,
            first_number=first_number,
            state=state,
            digests=digests,
            ciphertexts=ciphertexts,
            tails=[code_tail(code) for code in codes],
            lookup_key_id=vault.lookup_key_id,
            data_key_id=vault.data_key_id,
            created_at=now,
        )
    )
    if refused:
        lines = ", ".join(str(group[offset].line) for offset in refused[:10])
        raise ConflictError(
            f"codes on lines {lines} were stored by someone else meanwhile; import again"
        )
    uow.lots.record_generated(lot_id, len(group), posted_at=now)


def _existing(uow: UnitOfWork, vault: CodeVault, codes: Sequence[str]) -> set[str]:
    """The codes that a stored voucher has, found by digest under every live lookup key.

    Batches are looked up whole and split only when one holds a match, so a clean file of
    a million codes takes two thousand queries, not a million.
    """
    found: set[str] = set()
    pending = [list(codes[i : i + _LOOKUP_BATCH]) for i in range(0, len(codes), _LOOKUP_BATCH)]
    while pending:
        batch = pending.pop()
        digests = [digest for code in batch for digest in vault.digests(code)]
        if uow.vouchers.find_by_digests(digests) is None:
            continue
        if len(batch) == 1:
            found.add(batch[0])
        else:
            middle = len(batch) // 2
            pending += [batch[:middle], batch[middle:]]
    return found


def _default_validity(
    uow: UnitOfWork, voucher_type: VoucherType, expires_at: datetime | None
) -> int | None:
    """The operator's default expiry period, when neither the import nor the type sets one."""
    if expires_at is not None or voucher_type.validity_days is not None:
        return None
    return OperatorSettings.from_stored(uow.settings.all()).number("default_expiry_days")


def _lot_code(
    uow: UnitOfWork, voucher_type: VoucherType, lot_code: str | None, index: int, total: int
) -> str:
    if lot_code is not None:
        code = lot_code.strip().upper()
        return code if total == 1 else f"{code}-{index}"
    sequence = uow.counters.allocate("lot", 1)
    return f"{voucher_type.alternative_code[:_TYPE_CODE_IN_LOT_CODE]}-{sequence:06d}"
