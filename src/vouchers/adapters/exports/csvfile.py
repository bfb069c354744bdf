"""CSV export: a header row, then one row per voucher, written as rows arrive."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import BinaryIO

from vouchers.domain.exports import COLUMNS, ExportRow

_BATCH = 5_000


def write_csv(rows: Iterable[ExportRow], out: BinaryIO) -> None:
    """RFC 4180 CSV in UTF-8 with CRLF line ends (what spreadsheets and print houses read)."""
    text = _TextSink(out)
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    batch: list[ExportRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= _BATCH:
            writer.writerows(batch)
            batch.clear()
    writer.writerows(batch)


class _TextSink:
    """The ``write`` csv needs, encoding onto a binary file."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def write(self, text: str) -> int:
        return self._out.write(text.encode())
