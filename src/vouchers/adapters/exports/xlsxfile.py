"""XLSX export with XlsxWriter in constant-memory mode: each row is flushed to a temporary
file as soon as the next begins, so a million rows never sit in memory.

Numbers and amounts are numeric cells (amounts formatted with their currency's digits);
codes, dates and references are text, so a code with leading zeros stays as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import xlsxwriter

from vouchers.domain.exports import COLUMNS, ExportRow


def write_xlsx(rows: Iterable[ExportRow], path: Path, *, tmpdir: Path) -> None:
    """One sheet ``vouchers``: a bold header row, then one row per voucher."""
    workbook = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "tmpdir": str(tmpdir), "strings_to_numbers": False}
    )
    try:
        sheet = workbook.add_worksheet("vouchers")
        bold = workbook.add_format({"bold": True})
        formats: dict[int, object] = {}
        sheet.write_row(0, 0, COLUMNS, bold)
        sheet.set_column(1, 2, 26)
        sheet.set_column(6, 7, 22)
        write_number, write_string = sheet.write_number, sheet.write_string
        for index, row in enumerate(rows, start=1):
            digits = len(row.value.partition(".")[2])
            amount = formats.get(digits)
            if amount is None:
                amount = formats[digits] = workbook.add_format(
                    {"num_format": "0." + "0" * digits if digits else "0"}
                )
            write_number(index, 0, row.number)
            write_string(index, 1, row.code)
            write_string(index, 2, row.code_grouped)
            write_number(index, 3, float(row.value), amount)
            write_number(index, 4, float(row.extra_value), amount)
            write_string(index, 5, row.currency)
            write_string(index, 6, row.effective_at)
            write_string(index, 7, row.expires_at)
            write_string(index, 8, row.lot)
            write_string(index, 9, row.type)
    finally:
        workbook.close()
