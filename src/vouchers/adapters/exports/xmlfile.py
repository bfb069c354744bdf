"""XML export: the structure of docs/export.xsd, written element by element as rows arrive.

Text is escaped with the standard library: codes (a custom alphabet may hold ``&`` or ``<``),
lot and type codes. Numbers, amounts and moments never need it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import BinaryIO
from xml.sax.saxutils import escape, quoteattr

from vouchers.domain.exports import ExportRow, moment_text
from vouchers.services.ports import ExportMeta

NAMESPACE = "urn:vouchers:export:1"
_BATCH = 2_000


def write_xml(rows: Iterable[ExportRow], out: BinaryIO, meta: ExportMeta) -> None:
    """``<voucherExport>`` with one ``<voucher>`` per row (see docs/exports.md)."""
    out.write(
        (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<voucherExport xmlns="{NAMESPACE}" version="1" run="{meta.run_id}" '
            f"lot={quoteattr(meta.lot)} exportedAt={quoteattr(moment_text(meta.exported_at))} "
            f"exportedBy={quoteattr(meta.exported_by)}>\n"
        ).encode()
    )
    parts: list[str] = []
    for row in rows:
        parts.append(
            f'  <voucher number="{row.number}">'
            f"<code>{escape(row.code)}</code>"
            f"<codeGrouped>{escape(row.code_grouped)}</codeGrouped>"
            f"<value>{row.value}</value>"
            f"<extraValue>{row.extra_value}</extraValue>"
            f"<currency>{row.currency}</currency>"
            f"<effectiveAt>{row.effective_at}</effectiveAt>"
            f"<expiresAt>{row.expires_at}</expiresAt>"
            f"<lot>{escape(row.lot)}</lot>"
            f"<type>{escape(row.type)}</type>"
            "</voucher>\n"
        )
        if len(parts) >= _BATCH:
            out.write("".join(parts).encode())
            parts.clear()
    out.write("".join(parts).encode())
    out.write(b"</voucherExport>\n")
