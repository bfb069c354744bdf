"""Exports as process runs on SQLite and PostgreSQL: CSV, XLSX and XML round trips in
which every exported code redeems, history for every exported voucher, restricted states,
digest verification, four-eyes approval, age encryption and retention of the file."""

from __future__ import annotations

import csv
import io
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyrage
import pytest
from openpyxl import load_workbook
from pyrage import passphrase as age_passphrase
from pyrage import x25519
from sqlalchemy import select

from support.factories import (
    apply,
    clear_codes,
    history_rows,
    set_voucher_fields,
    voucher_rows,
)
from support.redeeming import customer, issue, redeem
from vouchers.adapters.db import schema
from vouchers.adapters.exports import store
from vouchers.bootstrap import App
from vouchers.domain.exports import COLUMNS, Encryption, EncryptionKind, ExportFormat
from vouchers.domain.lifecycle import BusinessDefinition, Process
from vouchers.domain.runs import ProcessRun, RunStatus
from vouchers.errors import (
    FourEyesError,
    InvalidTransitionError,
    KeyMaterialError,
    NotFoundError,
    ValidationError,
)
from vouchers.services import definitions, exports, runs, settings, vouchers
from vouchers.services.exports import ExportRequest
from vouchers.services.ports import HistoryEntry
from vouchers.services.processes import Selection

NS = {"v": "urn:vouchers:export:1"}
REQUESTER, APPROVER = "bob", "carol"


def request(app: App, lot: str, fmt: str = "csv", **encryption: Any) -> ProcessRun:
    criteria = ExportRequest(lot, ExportFormat(fmt), Encryption(**encryption)).as_criteria()
    return runs.request_run(
        Process.EXPORT, criteria, uow=app.uow(), clock=app.clock, actor=REQUESTER
    )


def context(app: App, environ: dict[str, str] | None = None) -> runs.RunContext:
    return runs.RunContext(
        clock=app.clock,
        vault=app.vault,
        worker="test",
        files=app.export_files(),
        environ=environ or {},
    )


def export(
    app: App, lot: str, fmt: str = "csv", environ: dict[str, str] | None = None, **enc: Any
) -> ProcessRun:
    """Request, approve (as another user) and carry out an export; the finished run."""
    run = request(app, lot, fmt, **enc)
    assert run.id is not None
    runs.approve_run(run.id, uow=app.uow(), clock=app.clock, actor=APPROVER)
    return runs.execute_run(run.id, uow=app.uow(), context=context(app, environ), reraise=True)


def exported_entries(app: App) -> list[HistoryEntry]:
    """The export entries of every voucher's history, as the history service shows them."""
    return [
        entry
        for number in sorted(voucher_rows(app))
        for entry in vouchers.voucher_history(number, uow=app.uow())
        if entry.process == "export"
    ]


def lot_of(app: App) -> str:
    with app.uow() as uow:
        return uow.lots.list()[-1].alternative_code


def files_left(app: App) -> list[str]:
    directory = app.export_files().directory
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def read_csv(data: bytes) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(data.decode(), newline=""))
    header = next(reader)
    assert tuple(header) == COLUMNS
    return [dict(zip(header, row, strict=True)) for row in reader]


def read_xlsx(data: bytes) -> list[dict[str, str]]:
    sheet = load_workbook(io.BytesIO(data), read_only=True)["vouchers"]
    rows = list(sheet.iter_rows(values_only=True))
    assert tuple(rows[0]) == COLUMNS
    amounts = {"value", "extra_value"}
    return [
        {
            name: f"{float(v):.2f}" if name in amounts else str(v)  # type: ignore[arg-type]
            for name, v in zip(COLUMNS, row, strict=True)
        }
        for row in rows[1:]
    ]


def read_xml(data: bytes) -> list[dict[str, str]]:
    root = ET.fromstring(data)
    assert root.tag == "{urn:vouchers:export:1}voucherExport"
    tags = ("code", "codeGrouped", "value", "extraValue", "currency", "effectiveAt", "expiresAt")
    tags += ("lot", "type")
    rows = []
    for voucher in root.findall("v:voucher", NS):
        texts = [voucher.findtext(f"v:{tag}", namespaces=NS) or "" for tag in tags]
        rows.append(dict(zip(COLUMNS, [voucher.get("number") or "", *texts], strict=True)))
    return rows


PARSERS: dict[str, Callable[[bytes], list[dict[str, str]]]] = {
    "csv": read_csv,
    "xlsx": read_xlsx,
    "xml": read_xml,
}


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "xml"])
def test_an_export_round_trips_and_every_exported_code_redeems(app: App, fmt: str) -> None:
    # Given 12 activated vouchers of a €50 type with a €5 extra value
    codes = issue(app, "PREM", 12, extra_value_minor=500)
    lot = lot_of(app)
    # When bob exports them and carol approves
    run = export(app, lot, fmt)
    # Then the run completed with a file in the export directory, readable by its owner only
    assert run.status is RunStatus.COMPLETED, run.error
    assert run.count == 12
    assert run.approved_by == APPROVER
    assert run.result_file is not None
    assert run.result_file.endswith(f".{fmt}")
    assert os.stat(run.result_file).st_mode & 0o777 == 0o600
    rows = PARSERS[fmt](Path(run.result_file).read_bytes())
    # … one row per voucher, in number order, the codes in clear and grouped
    assert [row["code"] for row in rows] == codes
    by_number = {int(row["number"]): row for row in rows}
    stored = voucher_rows(app)
    with app.uow() as uow:
        lot_record = uow.lots.get(lot)
        code_format = lot_record.code_format(uow.voucher_types.get(lot_record.type_id))
    for number, row in by_number.items():
        assert row["code_grouped"] == code_format.display(row["code"])
        assert (row["value"], row["extra_value"], row["currency"]) == ("50.00", "5.00", "EUR")
        assert row["lot"] == lot
        assert row["type"] == "PREM"
        assert row["expires_at"].endswith("Z")
        assert row["expires_at"][:19] == stored[number]["expires_at"].isoformat()[:19]
    # … each exported voucher's history says so
    exported = exported_entries(app)
    assert sorted(h.voucher_number for h in exported) == sorted(by_number)
    assert {h.note for h in exported} == {f"exported in run {run.id} by {REQUESTER}"}
    assert {(h.run_id, h.by, h.at) for h in exported} == {(run.id, REQUESTER, app.clock())}
    # … and every code in the file redeems
    customer(app)
    for row in rows:
        result = redeem(app, row["code_grouped"])
        assert result.voucher_number == int(row["number"])


def test_only_activated_vouchers_are_exported(app: App) -> None:
    # Given a lot of 6: one cancelled, one past its expiration
    issue(app, "PREM", 6)
    lot = lot_of(app)
    numbers = sorted(voucher_rows(app))
    apply(app, Process.CANCEL, Selection(number=numbers[0]))
    set_voucher_fields(app, numbers[1], expires_at=app.clock() - timedelta(days=1))
    # When it is exported, Then only the four activated and valid ones are in the file
    run = export(app, lot)
    assert run.result_file is not None
    rows = read_csv(Path(run.result_file).read_bytes())
    assert [int(r["number"]) for r in rows] == numbers[2:]
    assert len(exported_entries(app)) == 4


def test_a_definition_that_restricts_export_is_honoured(app: App) -> None:
    # Given activated vouchers and an active definition under which export addresses nothing
    issue(app, "PREM", 3)
    lot = lot_of(app)
    definitions.create_definition(
        BusinessDefinition("NOEXP", "No exports", restrictions={Process.EXPORT: frozenset()}),
        uow=app.uow(),
        clock=app.clock,
        actor="admin",
        activate=True,
    )
    # When an export runs, Then it fails and leaves neither file nor history
    with pytest.raises(InvalidTransitionError, match="export addresses"):
        export(app, lot)
    assert exported_entries(app) == []
    assert files_left(app) == []
    failed = runs.list_runs(uow=app.uow())[0]
    assert failed.status is RunStatus.FAILED
    assert failed.result_file is None


def test_a_lot_without_activated_vouchers_is_refused(app: App) -> None:
    issue(app, "PREM", 2)
    lot = lot_of(app)
    apply(app, Process.CANCEL, Selection(lot=lot))
    with pytest.raises(InvalidTransitionError, match=f"no voucher in lot {lot}"):
        export(app, lot)


def test_a_secret_that_does_not_match_its_digest_fails_the_run_and_names_the_voucher(
    app: App,
) -> None:
    # Given a voucher whose stored digest is not its code's
    issue(app, "PREM", 5)
    lot = lot_of(app)
    number = sorted(voucher_rows(app))[3]
    set_voucher_fields(app, number, lookup_digest=bytes(32))
    # When the lot is exported, Then the run fails naming it, and nothing is left behind
    with pytest.raises(KeyMaterialError, match=f"voucher {number} does not match"):
        export(app, lot)
    assert files_left(app) == []
    assert exported_entries(app) == []
    assert f"voucher {number}" in (runs.list_runs(uow=app.uow())[0].error or "")


def test_a_secret_that_does_not_decrypt_fails_the_run_and_names_the_voucher(app: App) -> None:
    issue(app, "PREM", 3)
    lot = lot_of(app)
    first, second, _ = sorted(voucher_rows(app))
    stored = voucher_rows(app)
    # A ciphertext moved onto another voucher does not decrypt there (bound to the number)
    set_voucher_fields(app, second, ciphertext=stored[first]["ciphertext"])
    with pytest.raises(KeyMaterialError, match=f"voucher {second} does not decrypt"):
        export(app, lot, "xlsx")
    assert files_left(app) == []


# -- history: each run's exported numbers, as ranges ---------------------------------------


def export_ranges(app: App) -> list[tuple[int, int, int]]:
    """The export_ranges table: (run, first number, last number) in order."""
    table = schema.export_ranges
    query = select(table.c.run_id, table.c.first_number, table.c.last_number)
    with app.engine.connect() as connection:
        rows = connection.execute(query.order_by(table.c.run_id, table.c.first_number))
        return [(row.run_id, row.first_number, row.last_number) for row in rows]


def at(app: App, hours: float) -> App:
    """The same app with its clock ``hours`` later."""
    moment = app.clock() + timedelta(hours=hours)
    return replace(app, clock=lambda: moment)


def test_vouchers_left_out_split_the_ranges_a_run_records(app: App) -> None:
    # Given a lot of 8: the 2nd cancelled, the 5th past its expiration, the 6th redeemed
    codes = issue(app, "PREM", 8)
    n = sorted(voucher_rows(app))
    apply(app, Process.CANCEL, Selection(number=n[1]))
    set_voucher_fields(app, n[4], expires_at=app.clock() - timedelta(days=1))
    customer(app)
    redeem(app, codes[5])
    # When the lot is exported
    run = export(app, lot_of(app))
    # Then the run records one range for each run of consecutive exported numbers
    assert run.count == 5
    assert export_ranges(app) == [(run.id, n[0], n[0]), (run.id, n[2], n[3]), (run.id, n[6], n[7])]
    # … and only the exported vouchers' histories say they were exported
    assert [h.voucher_number for h in exported_entries(app)] == [n[0], n[2], n[3], n[6], n[7]]
    assert history_rows(app, process="export") == []  # nothing stored per voucher


def test_a_voucher_history_shows_each_export_in_time_order(app: App) -> None:
    # Given a voucher exported an hour after activation, revealed, and exported again
    issue(app, "PREM", 2)
    number = sorted(voucher_rows(app))[1]
    first = export(at(app, 1), lot_of(app))
    revealing = at(app, 2)
    vouchers.reveal_code(
        number, reason="reprint", uow=app.uow(), vault=app.vault, clock=revealing.clock, actor="ann"
    )
    second = export(at(app, 3), lot_of(app))
    assert first.id is not None
    assert second.id is not None
    # When its history is read
    history = vouchers.voucher_history(number, uow=app.uow())
    # Then both exports are in it, in time order, as if stored for this voucher
    assert [(h.process, h.at) for h in history[-3:]] == [
        ("export", at(app, 1).clock()),
        ("reveal", at(app, 2).clock()),
        ("export", at(app, 3).clock()),
    ]
    assert history[-1] == HistoryEntry(
        voucher_number=number,
        field="secret",
        process="export",
        from_value=None,
        to_value=None,
        at=at(app, 3).clock(),
        by=REQUESTER,
        run_id=second.id,
        note=f"exported in run {second.id} by {REQUESTER}",
    )
    assert history[0].process == "generate"


def test_a_failed_export_records_no_range(app: App) -> None:
    issue(app, "PREM", 4)
    number = sorted(voucher_rows(app))[2]
    set_voucher_fields(app, number, lookup_digest=bytes(32))
    with pytest.raises(KeyMaterialError, match=f"voucher {number}"):
        export(app, lot_of(app))
    assert export_ranges(app) == []
    assert exported_entries(app) == []


def test_a_writer_failing_half_way_records_nothing_and_the_next_export_works(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a lot read in pages of 2, and a file writer that fails on the 4th row
    issue(app, "PREM", 7)
    monkeypatch.setattr(exports, "PAGE_SIZE", 2)

    def failing(rows: Iterable[Any], out: Any) -> None:
        for index, _ in enumerate(rows):
            if index == 3:
                raise OSError("disk full")

    monkeypatch.setattr(store, "write_csv", failing)
    # When the export runs, Then it fails with nothing recorded and no file left
    with pytest.raises(OSError, match="disk full"):
        export(app, lot_of(app))
    assert export_ranges(app) == []
    assert files_left(app) == []
    # … and the next export, on the same pooled connections, works
    monkeypatch.undo()
    run = export(app, lot_of(app))
    assert run.count == 7
    assert len(exported_entries(app)) == 7


def test_purging_an_exported_voucher_keeps_its_export_in_the_history(app: App) -> None:
    # Given an exported lot, one of whose vouchers is later cancelled and purged
    issue(app, "PREM", 3)
    n = sorted(voucher_rows(app))
    run = export(at(app, 1), lot_of(app))
    later = at(app, 2)
    apply(later, Process.CANCEL, Selection(number=n[1]))
    apply(later, Process.PURGE, Selection(number_from=n[1], number_to=n[1]))
    # Then the purged voucher (a tombstone) still shows who exported it, and the range stays
    history = vouchers.voucher_history(n[1], uow=app.uow())
    assert [h.process for h in history[-3:]] == ["export", "cancel", "purge"]
    assert history[-3].note == f"exported in run {run.id} by {REQUESTER}"
    assert export_ranges(app) == [(run.id, n[0], n[2])]


def test_a_worker_lost_after_its_export_committed_is_settled_from_the_ranges(app: App) -> None:
    # Given an export whose transaction committed, but whose worker died before the run
    # was marked completed
    issue(app, "PREM", 3)
    run = export(app, lot_of(app))
    assert run.id is not None
    with app.uow() as uow:
        uow.runs.update(run.id, status=RunStatus.RUNNING, count=None, finished_at=None)
        uow.commit()
    # When recovery looks at it, Then the run is completed with the vouchers it recorded
    assert runs.recover_runs(uow=app.uow(), clock=app.clock, alive=lambda _: False) == [run.id]
    settled = runs.get_run(run.id, uow=app.uow())
    assert (settled.status, settled.count) == (RunStatus.COMPLETED, 3)


def test_the_requester_cannot_approve_an_export_and_it_waits_until_approved(app: App) -> None:
    issue(app, "PREM", 2)
    run = request(app, lot_of(app))
    assert run.id is not None
    assert run.status is RunStatus.AWAITING
    with pytest.raises(FourEyesError):
        runs.approve_run(run.id, uow=app.uow(), clock=app.clock, actor=REQUESTER)
    # A worker does not pick up a run awaiting approval
    assert runs.run_due(uow=app.uow(), context=context(app)) is None
    approved = runs.approve_run(run.id, uow=app.uow(), clock=app.clock, actor=APPROVER)
    assert (approved.status, approved.approved_by) == (RunStatus.SCHEDULED, APPROVER)
    with pytest.raises(InvalidTransitionError, match="nothing to approve"):
        runs.approve_run(run.id, uow=app.uow(), clock=app.clock, actor=APPROVER)
    done = runs.run_due(uow=app.uow(), context=context(app))
    assert done is not None
    assert done.status is RunStatus.COMPLETED


def test_with_four_eyes_off_an_export_runs_without_approval(app: App) -> None:
    issue(app, "PREM", 2)
    settings.set_setting("export_four_eyes", "off", uow=app.uow(), clock=app.clock, actor="ops")
    run = request(app, lot_of(app), "xml")
    assert run.status is RunStatus.SCHEDULED
    assert run.id is not None
    done = runs.execute_run(run.id, uow=app.uow(), context=context(app), reraise=True)
    assert done.count == 2


def test_an_export_encrypted_to_a_recipient_decrypts_with_their_key_only(app: App) -> None:
    codes = issue(app, "PREM", 4)
    print_house, stranger = x25519.Identity.generate(), x25519.Identity.generate()
    run = export(
        app,
        lot_of(app),
        kind=EncryptionKind.RECIPIENTS,
        recipients=(str(print_house.to_public()),),
    )
    assert run.result_file is not None
    assert run.result_file.endswith(".csv.age")
    sealed = Path(run.result_file).read_bytes()
    assert not any(code.encode() in sealed for code in codes)
    rows = read_csv(pyrage.decrypt(sealed, [print_house]))
    assert [row["code"] for row in rows] == codes
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(sealed, [stranger])
    # No plain copy stays in the export directory
    assert files_left(app) == [Path(run.result_file).name]


def test_an_export_encrypted_with_a_passphrase_decrypts_with_it_only(app: App) -> None:
    codes = issue(app, "PREM", 3)
    environ = {"PRINT_HOUSE_PASSPHRASE": "correct horse battery staple"}
    run = export(
        app,
        lot_of(app),
        "xml",
        environ,
        kind=EncryptionKind.PASSPHRASE,
        passphrase_env="PRINT_HOUSE_PASSPHRASE",
    )
    assert run.result_file is not None
    sealed = Path(run.result_file).read_bytes()
    plain = age_passphrase.decrypt(sealed, environ["PRINT_HOUSE_PASSPHRASE"])
    assert [row["code"] for row in read_xml(plain)] == codes
    with pytest.raises(pyrage.DecryptError):
        age_passphrase.decrypt(sealed, "wrong")
    # The run stores the variable's name, never the passphrase
    assert "correct horse" not in str(runs.get_run(run.id or 0, uow=app.uow()))


def test_a_missing_passphrase_fails_the_run(app: App) -> None:
    issue(app, "PREM", 1)
    with pytest.raises(ValidationError, match="NOPE is not set"):
        export(app, lot_of(app), kind=EncryptionKind.PASSPHRASE, passphrase_env="NOPE")


def test_the_file_is_deleted_after_the_retention_period(app: App) -> None:
    issue(app, "PREM", 2)
    settings.set_setting("export_retention_days", "3", uow=app.uow(), clock=app.clock, actor="ops")
    run = export(app, lot_of(app))
    assert run.id is not None
    assert run.result_file is not None
    assert run.file_expires_at == app.clock() + timedelta(days=3)
    assert exports.export_file(run.id, uow=app.uow(), clock=app.clock, actor=APPROVER) == (
        run.result_file
    )
    files = app.export_files()
    assert exports.purge_expired_exports(uow=app.uow(), clock=app.clock, files=files) == []
    later = replace(app, clock=lambda: run.file_expires_at)  # type: ignore[return-value]
    assert exports.purge_expired_exports(uow=later.uow(), clock=later.clock, files=files) == [
        run.id
    ]
    assert not Path(run.result_file).exists()
    with pytest.raises(NotFoundError, match="retention"):
        exports.export_file(run.id, uow=app.uow(), clock=app.clock, actor=APPROVER)


def test_only_a_completed_export_run_has_a_file(app: App) -> None:
    issue(app, "PREM", 1)
    run = request(app, lot_of(app))
    with pytest.raises(InvalidTransitionError, match="no file yet"):
        exports.export_file(run.id or 0, uow=app.uow(), clock=app.clock, actor=APPROVER)


def test_bad_export_requests_are_refused_before_they_are_queued(app: App) -> None:
    for criteria, message in (
        ({"lot": "X"}, "needs a format"),
        ({"lot": "X", "format": "docx"}, "export format is one of"),
        ({"format": "csv"}, "needs a lot"),
        ({"lot": "X", "format": "csv", "states": ["draft"]}, "does not take states"),
        ({"lot": "X", "format": "csv", "encrypt": "recipients", "recipients": ["x"]}, "not an"),
    ):
        with pytest.raises(ValidationError, match=message):
            runs.request_run(
                Process.EXPORT, criteria, uow=app.uow(), clock=app.clock, actor=REQUESTER
            )
    assert runs.list_runs(uow=app.uow()) == []


def test_a_pdf_export_writes_card_sheets(app: App) -> None:
    if not app.export_files().supports(ExportFormat.PDF):
        pytest.skip("PDF card sheets are not available in this build")
    issue(app, "PREM", 3)
    run = export(app, lot_of(app), "pdf")
    assert run.result_file is not None
    assert Path(run.result_file).read_bytes().startswith(b"%PDF")
    assert len(exported_entries(app)) == 3


def test_codes_in_the_file_are_the_stored_codes(app: App) -> None:
    issue(app, "PREM", 3)
    run = export(app, lot_of(app))
    assert run.result_file is not None
    rows = read_csv(Path(run.result_file).read_bytes())
    assert {int(r["number"]): r["code"] for r in rows} == clear_codes(app)
