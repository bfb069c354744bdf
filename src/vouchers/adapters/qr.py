"""QR codes drawn with segno: PNG and SVG files, and the module matrix the PDF sheets draw.

Error correction is level M (15% of the symbol may be lost), raised by segno when the
content still fits the same version; a quiet zone of four modules surrounds every symbol,
as ISO/IEC 18004 asks, so scanners find it on a busy background.
"""

from __future__ import annotations

import io

import segno

from vouchers.services.qr_codes import QrFormat

QUIET_ZONE = 4
"""Modules of white around a symbol."""


SHEET_MASK = 2
"""The mask pattern of QR codes on print sheets (see :func:`qr_matrix`)."""


def make_qr(content: str, *, mask: int | None = None) -> segno.QRCode:
    """The QR symbol for ``content`` (never a Micro QR: phones do not read those).

    Without ``mask`` segno scores all eight mask patterns and takes the best, as the
    standard recommends; that scoring is 80% of the time a symbol takes.
    """
    return segno.make(content, error="m", micro=False, boost_error=True, mask=mask)


def qr_matrix(content: str, *, mask: int | None = None) -> list[list[bool]]:
    """The symbol's modules without quiet zone, row by row from the top; True is dark.

    Print sheets pass a fixed ``mask``: every mask decodes, and skipping the scoring makes
    a thousand cards four times faster (the sheet tests decode every card).
    """
    matrix = make_qr(content, mask=mask).matrix
    return [[bool(module) for module in row] for row in matrix]


def render_qr(content: str, fmt: QrFormat, *, scale: int = 8) -> bytes:
    """``content`` as a QR code file in ``fmt``, ``scale`` pixels (SVG units) per module.

    Implements :class:`vouchers.services.qr_codes.QrRenderer`.
    """
    out = io.BytesIO()
    qr = make_qr(content)
    if QrFormat(fmt) is QrFormat.PNG:
        qr.save(out, kind="png", scale=scale, border=QUIET_ZONE)
    else:
        qr.save(out, kind="svg", scale=scale, border=QUIET_ZONE, xmldecl=True, svgns=True)
    return out.getvalue()
