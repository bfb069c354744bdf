"""Exports of a lot's secrets for the print house, carried out as process runs.

``export_lot`` is what a run of the ``export`` process does: in one transaction (one
consistent snapshot) it pages through the lot's vouchers in the states export addresses
(activated, narrowed by the active business definition), decrypts every secret, checks it
against its lookup digest, and streams the rows into the file writer; then it records the
numbers written as ranges of consecutive numbers (each voucher's history reads them as
"exported in run N by U": ``vouchers.services.vouchers.voucher_history``), stores the
file's path and expiry on the run and puts ``export.ready`` in the outbox. A secret that
does not decrypt or match its digest fails the run, names the voucher, records nothing
and leaves no file behind.

``export_file`` hands out a finished run's file; ``purge_expired_exports`` deletes files
whose retention (the ``export_retention_days`` setting) has ended. Who may export and
download is a role check that arrives with staff roles (issue #5); until then the
requester, approver and downloader are recorded by name.
"""

from __future__ import annotations

import gc
import itertools
import operator
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vouchers.domain.codes import CodeFormat
from vouchers.domain.exports import (
    XLSX_MAX_ROWS,
    Encryption,
    EncryptionKind,
    ExportFormat,
    ExportRow,
    NumberRanges,
    amount_text,
    file_expiry,
    moment_text,
    parse_format,
)
from vouchers.domain.lifecycle import Process, addressed_states
from vouchers.domain.lots import Lot
from vouchers.domain.money import currency
from vouchers.domain.runs import ProcessRun, RunStatus
from vouchers.domain.settings import OperatorSettings
from vouchers.errors import (
    InvalidTransitionError,
    NotFoundError,
    StorageError,
    ValidationError,
)
from vouchers.services.ports import (
    Clock,
    CodeVault,
    ExportFiles,
    ExportMeta,
    Progress,
    SealedVoucher,
    UnitOfWork,
    VoucherCriteria,
)

PAGE_SIZE = 2_000  # vouchers read, checked and written at a time (see _collector_paused)
CRITERIA_KEYS = frozenset({"lot", "format", "encrypt", "passphrase_env", "recipients"})


@dataclass(frozen=True)
class ExportRequest:
    """What an export run is asked to do: a lot, a format, and how to encrypt the file."""

    lot: int | str
    export_format: ExportFormat
    encryption: Encryption = field(default_factory=Encryption)

    def as_criteria(self) -> dict[str, Any]:
        """The JSON criteria of the run."""
        return {
            "lot": self.lot,
            "format": self.export_format.value,
            **self.encryption.as_criteria(),
        }

    @classmethod
    def from_criteria(cls, criteria: Mapping[str, Any]) -> ExportRequest:
        """The request stored in a run; raises ValidationError."""
        unknown = set(criteria) - CRITERIA_KEYS
        if unknown:
            raise ValidationError("export does not take " + ", ".join(sorted(unknown)))
        if criteria.get("lot") is None:
            raise ValidationError("export needs a lot")
        if criteria.get("format") is None:
            raise ValidationError("export needs a format (csv, xlsx, xml or pdf)")
        return cls(
            criteria["lot"],
            parse_format(str(criteria["format"])),
            Encryption.from_criteria(criteria),
        )


def needs_approval(uow: UnitOfWork) -> bool:
    """Whether exports wait for a second user's approval (setting ``export_four_eyes``);
    call inside an open unit of work."""
    return OperatorSettings.from_stored(uow.settings.all()).switch("export_four_eyes")


def export_lot(
    run: ProcessRun,
    *,
    uow: UnitOfWork,
    vault: CodeVault,
    clock: Clock,
    files: ExportFiles | None,
    environ: Mapping[str, str],
    progress: Progress | None = None,
) -> int:
    """Carry out export run ``run``; return how many vouchers the file holds.

    Raises ValidationError (bad request, PDF unavailable, too many rows for XLSX, a
    missing passphrase), InvalidTransitionError when no voucher of the lot is in a state
    export addresses, KeyMaterialError naming the first voucher whose secret does not
    decrypt or match its digest, LotNotFoundError.
    """
    assert run.id is not None
    request = ExportRequest.from_criteria(run.criteria)
    passphrase = _passphrase(request.encryption, environ)
    if files is None or not files.supports(request.export_format):
        raise ValidationError(f"{request.export_format.value.upper()} export not available")
    now = clock()
    with uow:
        uow.exports.snapshot()
        lot = uow.lots.get(request.lot)
        states = addressed_states(Process.EXPORT, uow.definitions.active())
        criteria = VoucherCriteria(states=states, now=now, lot_id=lot.require_id())
        total = uow.exports.count(criteria)
        if total == 0:
            raise InvalidTransitionError(
                f"no voucher in lot {lot.alternative_code} is in a state export addresses ("
                + (", ".join(sorted(states)) or "none under the active definition")
                + ")"
            )
        if request.export_format is ExportFormat.XLSX and total > XLSX_MAX_ROWS:
            raise ValidationError(
                f"an XLSX sheet holds at most {XLSX_MAX_ROWS:,} vouchers; lot "
                f"{lot.alternative_code} has {total:,} to export: use csv or xml"
            )
        written = NumberRanges()
        meta = ExportMeta(run.id, lot.alternative_code, now, run.requested_by)
        # Closed here even when the writer fails half-way: the pages may hold a cursor
        # open, which must go while this transaction is still this unit of work's.
        with closing(_rows(uow, vault, criteria, lot, written, total, progress)) as rows:
            path = files.write(
                request.export_format,
                rows,
                meta=meta,
                encryption=request.encryption,
                passphrase=passphrase,
            )
        try:
            if written.count != total:  # cannot happen within one snapshot
                raise StorageError(f"the export counted {total} vouchers but wrote {written.count}")
            uow.exports.record(run.id, written.ranges, at=now)
            retention = OperatorSettings.from_stored(uow.settings.all()).number(
                "export_retention_days"
            )
            expires = file_expiry(now, retention)
            uow.runs.update(run.id, result_file=path, file_expires_at=expires)
            uow.events.add(
                "export.ready",
                {
                    "run": run.id,
                    "lot": lot.alternative_code,
                    "format": request.export_format.value,
                    "count": written.count,
                    "expires_at": expires.isoformat(),
                },
                at=now,
            )
            uow.commit()
        except BaseException:
            files.delete(path)
            raise
    return written.count


def export_file(run_id: int, *, uow: UnitOfWork, clock: Clock, actor: str) -> str:
    """The path of a completed export run's file, the download recorded as an event.

    Raises RunNotFoundError, ValidationError for a run that is not an export,
    InvalidTransitionError for one not completed, NotFoundError once its file is deleted.
    """
    now = clock()
    with uow:
        run = uow.runs.get(run_id)
        if run.process != Process.EXPORT.value:
            raise ValidationError(f"run {run_id} is a {run.process} run; it has no file")
        if run.status is not RunStatus.COMPLETED:
            raise InvalidTransitionError(f"run {run_id} is {run.status}; it has no file yet")
        expired = run.file_expires_at is not None and run.file_expires_at <= now
        if run.result_file is None or expired:
            raise NotFoundError(
                f"the file of run {run_id} was deleted when its retention period ended"
            )
        uow.events.add("export.downloaded", {"run": run_id, "by": actor}, at=now)
        uow.commit()
        return run.result_file


def purge_expired_exports(*, uow: UnitOfWork, clock: Clock, files: ExportFiles) -> list[int]:
    """Delete every export file whose retention has ended; return the runs' numbers."""
    now = clock()
    purged = []
    with uow:
        for run in uow.runs.with_expired_files(now):
            assert run.id is not None
            assert run.result_file is not None
            files.delete(run.result_file)
            uow.runs.update(run.id, result_file=None)
            purged.append(run.id)
        uow.commit()
    return purged


# -- rows ---------------------------------------------------------------------------------


def _rows(
    uow: UnitOfWork,
    vault: CodeVault,
    criteria: VoucherCriteria,
    lot: Lot,
    written: NumberRanges,
    total: int,
    progress: Progress | None,
) -> Generator[ExportRow, None, None]:
    """Decrypted, digest-checked rows in number order, read page by page; the numbers of
    every page go into ``written``."""
    kinds: dict[tuple[Any, ...], _Kind] = {}
    with closing(uow.exports.pages(criteria, size=PAGE_SIZE)) as pages:
        while True:
            with _collector_paused():
                page = next(pages, None)
                if page is None:
                    break
                rows = _page_rows(uow, vault, lot, page, kinds)
                written.add([row[0] for row in page])
                del page
                yield from rows
                del rows
            if len(kinds) > 10_000:  # a lot shares a few kinds: this only trims odd data
                kinds.clear()
            if progress is not None:
                progress(written.count, total)


def _page_rows(
    uow: UnitOfWork,
    vault: CodeVault,
    lot: Lot,
    page: Sequence[SealedVoucher],
    kinds: dict[tuple[Any, ...], _Kind],
) -> list[ExportRow]:
    codes = vault.open_checked(page)
    rows: list[ExportRow] = []
    add = rows.append
    for row, code in zip(page, codes, strict=True):
        key = row[5:]  # type, value, extra value, currency, validity: shared by many
        kind = kinds.get(key)
        if kind is None:
            kind = kinds[key] = _kind(uow, lot, *key)
        add(ExportRow(row[0], code, kind.group(code), *kind.texts))
    return rows


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a page is read, turned into rows and taken by the
    file writer. Its thousands of tuples hold no cycle and are all freed again before the
    collector resumes; left running, every few hundred of them would start a pass, and
    the rows still alive would be carried into older generations and scanned again by
    full collections (a tenth of an export's CPU time). The pause is global, so pages are
    small: a few milliseconds for CSV, under a second for XLSX."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class _Kind:
    """What vouchers of one type, value and validity share in a file: the grouping of
    their codes and the text of every column after the codes."""

    group: Callable[[str], str]
    texts: tuple[str, str, str, str, str, str, str]


def _kind(
    uow: UnitOfWork,
    lot: Lot,
    type_id: int,
    value_minor: int,
    extra_minor: int,
    currency_code: str,
    effective_at: datetime,
    expires_at: datetime,
) -> _Kind:
    voucher_type = uow.voucher_types.get(type_id)
    exponent = currency(currency_code).exponent
    return _Kind(
        _grouper(lot.code_format(voucher_type)),
        (
            amount_text(value_minor, exponent),
            amount_text(extra_minor, exponent),
            currency_code,
            moment_text(effective_at),
            moment_text(expires_at),
            lot.alternative_code,
            voucher_type.alternative_code,
        ),
    )


def _grouper(code_format: CodeFormat) -> Callable[[str], str]:
    """``code_format.group``, faster for codes of the format's length: grouping depends on
    the length only, so their groups are cut by one ``itemgetter`` of slices found once."""
    length = code_format.total_length
    template = "".join(chr(0x100 + i) for i in range(length))  # never a separator
    sizes = [len(part) for part in code_format.group(template).split("-")]
    if len(sizes) < 2:
        return code_format.group
    bounds = list(itertools.accumulate(sizes, initial=0))
    cut = operator.itemgetter(*(slice(a, b) for a, b in itertools.pairwise(bounds)))
    group, join = code_format.group, "-".join

    def grouped(code: str) -> str:
        return join(cut(code)) if len(code) == length else group(code)

    return grouped


def _passphrase(encryption: Encryption, environ: Mapping[str, str]) -> str | None:
    if encryption.kind is not EncryptionKind.PASSPHRASE:
        return None
    name = encryption.passphrase_env or ""
    secret = environ.get(name)
    if not secret:
        raise ValidationError(f"the passphrase variable {name} is not set (or empty)")
    return secret
