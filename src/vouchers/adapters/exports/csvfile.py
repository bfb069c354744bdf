"""CSV export: a header row, then one row per voucher, written in batches as rows arrive."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Sequence
from typing import BinaryIO

from vouchers.domain.exports import COLUMNS, ExportRow

_BATCH = 5_000
_FIELDS = len(COLUMNS)


def write_csv(rows: Iterable[ExportRow], out: BinaryIO) -> None:
    """RFC 4180 CSV in UTF-8 with CRLF line ends (what spreadsheets and print houses read)."""
    out.write(_quoted([COLUMNS]).encode())
    iterator = iter(rows)
    while batch := list(itertools.islice(iterator, _BATCH)):
        out.write(_lines(batch).encode())


def _lines(batch: Sequence[ExportRow]) -> str:
    """The lines of ``batch``, exactly as the csv module writes them.

    Joined as they are, which is what csv does for fields without a delimiter, quote or
    line end: the count of each in the text proves there is none (a custom alphabet may
    hold ``,`` or ``"``), else the csv module writes the batch, quoting where needed.
    """
    text = "".join(
        [
            f"{number},{code},{grouped},{value},{extra},{money},{effective},{expires},{lot},{kind}\r\n"
            for number, code, grouped, value, extra, money, effective, expires, lot, kind in batch
        ]
    )
    size = len(batch)
    if (
        text.count(",") == (_FIELDS - 1) * size
        and text.count("\n") == size
        and text.count("\r") == size
        and '"' not in text
    ):
        return text
    return _quoted(batch)


def _quoted(records: Iterable[Sequence[object]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(records)
    return buffer.getvalue()
