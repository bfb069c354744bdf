"""``vouchers import FILE --type …``: codes from another system, checked row by row.

Prints the lots it made and every refused row (line, reason, message; never a code).
Exits 0 when codes were imported (with ``--skip-invalid`` some rows may have been
skipped, and are listed), and 2 when nothing was imported because rows were refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vouchers.domain.money import Money
from vouchers.entrypoints.cli import render
from vouchers.entrypoints.cli.context import (
    Json,
    console,
    emit,
    err_console,
    handled,
    parse_moment,
    parse_ref,
    state,
)
from vouchers.errors import ValidationError
from vouchers.services import voucher_types
from vouchers.services.imports import ImportReport, import_csv

EXIT_REFUSED = 2


def register(app: typer.Typer) -> None:
    """Add ``vouchers import`` to the root app."""
    app.command("import")(import_)


def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV file with a 'code' column.")],
    type_ref: Annotated[str, typer.Option("--type", help="Voucher type alternative code or id.")],
    lot: Annotated[
        str | None, typer.Option("--lot", help="Code of the new lot; default TYPE-n.")
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid rows, skip the others.")
    ] = False,
    value: Annotated[
        str | None, typer.Option(help="Value of rows without one (variable-value types).")
    ] = None,
    expires: Annotated[
        str | None, typer.Option(help="Expiry of rows without one (ISO 8601).")
    ] = None,
    description: Annotated[str, typer.Option(help="Description of the new lot.")] = "",
    as_json: Json = False,
) -> None:
    """Import codes from a CSV file into a new lot; nothing unless every row passes."""
    cli = state(ctx)
    with handled(as_json=as_json):
        text = _read(file)
        app_ = cli.app()
        type_ = parse_ref(type_ref)
        currency = voucher_types.get_voucher_type(type_, uow=app_.uow()).currency
        report = import_csv(
            text,
            type_ref=type_,
            uow=app_.uow(),
            vault=app_.vault,
            clock=app_.clock,
            actor=cli.settings.actor,
            lot_code=lot,
            skip_invalid=skip_invalid,
            value_minor=None if value is None else Money.parse(value, currency).minor,
            expires_at=parse_moment(expires),
            description=description,
        )
    data = report_data(report)
    emit(data, as_json=as_json, human=lambda: _print(report, data))
    if report.imported == 0:
        raise typer.Exit(EXIT_REFUSED)


def report_data(report: ImportReport) -> dict[str, Any]:
    """The report as plain data for ``--json``."""
    return {
        "rows": report.rows,
        "imported": report.imported,
        "rejected": [
            {"line": row.line, "reason": str(row.reason), "message": row.message}
            for row in report.rejected
        ],
        "lots": [
            {
                **render.lot(lot),
                "first_number": lot.first_number,
                "last_number": None
                if lot.first_number is None
                else lot.first_number + lot.count - 1,
            }
            for lot in report.lots
        ],
        "ignored_columns": list(report.ignored_columns),
    }


def _read(file: Path) -> str:
    try:
        return file.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise ValidationError(f"cannot read {file}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{file} is not UTF-8 text (byte {exc.start})") from exc


def _print(report: ImportReport, data: dict[str, Any]) -> None:
    if report.rejected:
        table = Table("line", "reason", "message", title="Refused rows")
        for row in report.rejected:
            table.add_row(str(row.line), str(row.reason), row.message)
        err_console.print(table)
    for lot in data["lots"]:
        console.print(
            f"lot {lot['alternative_code']}: {lot['count']:,} vouchers of {lot['value']}, "
            f"numbers {lot['first_number']}-{lot['last_number']}, expires {lot['expires_at']}",
            highlight=False,
        )
    if report.imported:
        skipped = f", {len(report.rejected):,} skipped" if report.rejected else ""
        console.print(f"imported {report.imported:,} of {report.rows:,} rows{skipped}")
    else:
        err_console.print(
            f"nothing imported: {len(report.rejected):,} of {report.rows:,} rows refused",
            highlight=False,
        )
        if report.rejected and len(report.rejected) < report.rows:
            err_console.print("pass --skip-invalid to import the other rows", highlight=False)
    if report.ignored_columns:
        err_console.print(f"ignored columns: {', '.join(report.ignored_columns)}")
