"""Exports of a lot's secrets for the print house, carried out as process runs.

``export_lot`` is what a run of the ``export`` process does: in one transaction (one
consistent snapshot) it pages through the lot's vouchers in the states export addresses
(activated, narrowed by the active business definition), decrypts every secret, checks it
against its lookup digest, and streams the rows into the file writer; then it writes one
history row per exported voucher ("exported in run N by U"), stores the file's path and
expiry on the run and puts ``export.ready`` in the outbox. A secret that does not decrypt
or match its digest fails the run, names the voucher, and leaves no file behind.

``export_file`` hands out a finished run's file; ``purge_expired_exports`` deletes files
whose retention (the ``export_retention_days`` setting) has ended. Who may export and
download is a role check that arrives with staff roles (issue #5); until then the
requester, approver and downloader are recorded by name.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from vouchers.domain.codes import CodeFormat
from vouchers.domain.exports import (
    XLSX_MAX_ROWS,
    Encryption,
    EncryptionKind,
    ExportFormat,
    ExportRow,
    amount_text,
    export_note,
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
    KeyMaterialError,
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
    UnitOfWork,
    VoucherCriteria,
)

PAGE_SIZE = 20_000
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
        counter = _Counter()
        rows = _rows(uow, vault, criteria, lot, counter, total, progress)
        meta = ExportMeta(run.id, lot.alternative_code, now, run.requested_by)
        path = files.write(
            request.export_format,
            rows,
            meta=meta,
            encryption=request.encryption,
            passphrase=passphrase,
        )
        try:
            recorded = uow.exports.record(
                criteria,
                run_id=run.id,
                actor=run.requested_by,
                at=now,
                note=export_note(run.id, run.requested_by),
            )
            if recorded != counter.value:  # cannot happen within one snapshot
                raise StorageError(
                    f"the export wrote {counter.value} vouchers but recorded {recorded}"
                )
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
                    "count": recorded,
                    "expires_at": expires.isoformat(),
                },
                at=now,
            )
            uow.commit()
        except BaseException:
            files.delete(path)
            raise
    return counter.value


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


class _Counter:
    value = 0


def _rows(
    uow: UnitOfWork,
    vault: CodeVault,
    criteria: VoucherCriteria,
    lot: Lot,
    counter: _Counter,
    total: int,
    progress: Progress | None,
) -> Iterator[ExportRow]:
    """Decrypted, digest-checked rows in number order, read page by page (keyset)."""
    types: dict[int, tuple[str, Callable[[str], str]]] = {}
    exponents: dict[str, int] = {}
    moments: dict[object, str] = {}
    current_lookup = vault.lookup_key_id
    digest, digests, open_ = vault.digest, vault.digests, vault.open
    same = hmac.compare_digest
    lot_code = lot.alternative_code
    after = 0
    while True:
        page = uow.exports.page(criteria, after=after, limit=PAGE_SIZE)
        if not page:
            break
        for (
            number,
            ciphertext,
            data_key_id,
            stored_digest,
            lookup_key_id,
            type_id,
            value_minor,
            extra_minor,
            currency_code,
            effective_at,
            expires_at,
        ) in page:
            code = open_(number, ciphertext, data_key_id)
            if lookup_key_id == current_lookup:
                matches = same(digest(code), stored_digest)
            else:
                matches = stored_digest in digests(code)
            if not matches:
                raise KeyMaterialError(
                    f"the secret of voucher {number} does not match its lookup digest"
                )
            kind = types.get(type_id)
            if kind is None:
                kind = types[type_id] = _type_of(uow, lot, type_id)
            exponent = exponents.get(currency_code)
            if exponent is None:
                exponent = exponents[currency_code] = currency(currency_code).exponent
            effective = moments.get(effective_at)
            if effective is None:
                effective = moments[effective_at] = moment_text(effective_at)
            expires = moments.get(expires_at)
            if expires is None:
                expires = moments[expires_at] = moment_text(expires_at)
            yield ExportRow(
                number,
                code,
                kind[1](code),
                amount_text(value_minor, exponent),
                amount_text(extra_minor, exponent),
                currency_code,
                effective,
                expires,
                lot_code,
                kind[0],
            )
        counter.value += len(page)
        after = page[-1][0]
        if len(moments) > 10_000:  # dates are per lot, so this only trims odd data
            moments.clear()
        if progress is not None:
            progress(counter.value, total)


def _type_of(uow: UnitOfWork, lot: Lot, type_id: int) -> tuple[str, Callable[[str], str]]:
    voucher_type = uow.voucher_types.get(type_id)
    code_format: CodeFormat = lot.code_format(voucher_type)
    return voucher_type.alternative_code, code_format.group


def _passphrase(encryption: Encryption, environ: Mapping[str, str]) -> str | None:
    if encryption.kind is not EncryptionKind.PASSPHRASE:
        return None
    name = encryption.passphrase_env or ""
    secret = environ.get(name)
    if not secret:
        raise ValidationError(f"the passphrase variable {name} is not set (or empty)")
    return secret
