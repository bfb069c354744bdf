"""PDF card sheets: a grid of printable voucher cards per A4 or Letter page (ReportLab).

Each card shows the operator's name, the value, the code in display form, the voucher
number, the expiry date and a QR code that opens the redemption page with the code filled
in (:func:`vouchers.services.qr_codes.redemption_url`). QR codes are drawn as vector paths
(one filled path per symbol, dark runs of a row merged into one rectangle), so they print
sharp at any size and a thousand cards take about a second. Thin grey lines mark where to
cut. The sheets hold codes in clear: whoever calls this has revealed them on purpose.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from vouchers.adapters.qr import QUIET_ZONE, SHEET_MASK, qr_matrix
from vouchers.errors import ValidationError
from vouchers.services.qr_codes import DEFAULT_REDEEM_URL, redemption_url

PageSize = Literal["A4", "Letter"]
PAGE_SIZES: dict[str, tuple[float, float]] = {"A4": A4, "Letter": LETTER}

MM: float = mm
MARGIN = 10 * MM
PADDING = 3 * MM
MIN_CARD_WIDTH = 40 * MM
MIN_CARD_HEIGHT = 22 * MM
_SANS, _SANS_BOLD, _MONO = "Helvetica", "Helvetica-Bold", "Courier-Bold"


class CardLike(Protocol):
    """What a card shows; :class:`Card` or any object with these attributes."""

    @property
    def number(self) -> int: ...

    @property
    def code(self) -> str: ...

    @property
    def value(self) -> str: ...

    @property
    def expiry(self) -> datetime | date | str | None: ...


@dataclass(frozen=True)
class Card:
    """One voucher card: its number, code in display form, value text and expiry."""

    number: int
    code: str
    value: str
    expiry: datetime | date | str | None = None


@dataclass(frozen=True)
class SheetLayout:
    """Where cards go on a page: ``columns`` x ``rows`` cells inside the margins."""

    page: PageSize = "A4"
    columns: int = 2
    rows: int = 5

    def __post_init__(self) -> None:
        if self.page not in PAGE_SIZES:
            raise ValidationError(f"print sheets are A4 or Letter, not {self.page!r}")
        for name, count in (("columns", self.columns), ("rows", self.rows)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ValidationError(f"a sheet has at least one of its {name}, not {count!r}")
        if self.card_width < MIN_CARD_WIDTH or self.card_height < MIN_CARD_HEIGHT:
            raise ValidationError(
                f"{self.columns} x {self.rows} cards do not fit on {self.page}: a card needs "
                f"at least {MIN_CARD_WIDTH / MM:.0f} x {MIN_CARD_HEIGHT / MM:.0f} mm"
            )

    @property
    def size(self) -> tuple[float, float]:
        return PAGE_SIZES[self.page]

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    @property
    def card_width(self) -> float:
        return (self.size[0] - 2 * MARGIN) / self.columns

    @property
    def card_height(self) -> float:
        return (self.size[1] - 2 * MARGIN) / self.rows

    def origin(self, slot: int) -> tuple[float, float]:
        """The lower-left corner of card ``slot`` (0 is top left, filled row by row)."""
        row, column = divmod(slot, self.columns)
        x = MARGIN + column * self.card_width
        y = self.size[1] - MARGIN - (row + 1) * self.card_height
        return x, y


def render_pdf_sheets(
    cards: Iterable[CardLike],
    out: BinaryIO | Path | str,
    *,
    operator: str,
    page: PageSize = "A4",
    columns: int = 2,
    rows: int = 5,
    redeem_url: str = DEFAULT_REDEEM_URL,
) -> int:
    """Write ``cards`` as a PDF of card sheets to ``out`` (a binary file or a path).

    Cards are read once, page by page, so a generator of a million cards never sits in
    memory. Returns the number of pages written (one empty page for no cards). Raises
    ValidationError for a page size or grid that does not fit, or a bad redemption address.
    """
    layout = SheetLayout(page=page, columns=columns, rows=rows)
    redemption_url("", redeem_url)
    target = str(out) if isinstance(out, Path | str) else out
    canvas = Canvas(target, pagesize=layout.size, pageCompression=1)
    canvas.setTitle(f"{operator} vouchers")
    canvas.setCreator("vouchers")
    pages = 0
    for pages, batch in enumerate(_pages(cards, layout.per_page), start=1):  # noqa: B007
        for slot, card in enumerate(batch):
            _draw_card(canvas, layout, slot, card, operator=operator, redeem_url=redeem_url)
        canvas.showPage()
    if pages == 0:
        canvas.showPage()
        pages = 1
    canvas.save()
    return pages


def _pages(cards: Iterable[CardLike], size: int) -> Iterator[list[CardLike]]:
    batch: list[CardLike] = []
    for card in cards:
        batch.append(card)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _draw_card(
    canvas: Canvas,
    layout: SheetLayout,
    slot: int,
    card: CardLike,
    *,
    operator: str,
    redeem_url: str,
) -> None:
    x, y = layout.origin(slot)
    width, height = layout.card_width, layout.card_height
    canvas.setStrokeGray(0.75)
    canvas.setLineWidth(0.3)
    canvas.rect(x, y, width, height, stroke=1, fill=0)  # the cut line

    # The QR code fills the card's height on the right, quiet zone included.
    qr_side = min(height - 2 * PADDING, width * 0.45)
    matrix = qr_matrix(redemption_url(card.code, redeem_url), mask=SHEET_MASK)
    _draw_qr(canvas, matrix, x + width - PADDING - qr_side, y + PADDING, qr_side)

    left, text_width = x + PADDING, width - 3 * PADDING - qr_side
    top = y + height - PADDING
    canvas.setFillGray(0)
    line = _fit(operator, _SANS_BOLD, 10, text_width)
    canvas.setFont(_SANS_BOLD, line)
    canvas.drawString(left, top - line, operator[:80])
    top -= line * 1.25
    size = _fit(card.value, _SANS_BOLD, 16, text_width)
    canvas.setFont(_SANS_BOLD, size)
    canvas.drawString(left, top - size, card.value)
    top -= size * 1.3
    size = _fit(card.code, _MONO, 12, text_width)
    canvas.setFont(_MONO, size)
    canvas.drawString(left, top - size, card.code)
    canvas.setFont(_SANS, 7)
    canvas.setFillGray(0.25)
    bottom = y + PADDING
    expiry = _expiry_text(card.expiry)
    if expiry:
        canvas.drawString(left, bottom + 9, _clip(f"Valid until {expiry}", _SANS, 7, text_width))
    canvas.drawString(left, bottom, _clip(f"No. {card.number}", _SANS, 7, text_width))


def _draw_qr(canvas: Canvas, matrix: list[list[bool]], x: float, y: float, side: float) -> None:
    """Draw the symbol with its quiet zone into the square at (x, y) of ``side`` points.

    The path is written in module units under a scaling transform, as literal PDF
    operators: ReportLab's own path objects format every coordinate as a float, which made
    them the slowest part of a sheet.
    """
    count = len(matrix)
    module = side / (count + 2 * QUIET_ZONE)
    ops: list[str] = []
    for r, row in enumerate(matrix):
        bottom = count - 1 - r  # PDF's y axis points up
        c = 0
        while c < count:
            if not row[c]:
                c += 1
                continue
            start = c
            while c < count and row[c]:
                c += 1
            # A hair of overlap keeps anti-aliased viewers from drawing seams between rows.
            ops.append(f"{start} {bottom} {c - start} 1.02 re")
    canvas.saveState()
    canvas.setFillGray(0)
    canvas.transform(module, 0, 0, module, x + QUIET_ZONE * module, y + QUIET_ZONE * module)
    canvas.addLiteral("\n".join(ops) + "\nf")
    canvas.restoreState()


def _fit(text: str, font: str, size: float, width: float) -> float:
    """The largest font size up to ``size`` (and at least 5 points) at which ``text`` fits."""
    needed: float = stringWidth(text, font, size)
    if needed <= width:
        return size
    return max(5.0, size * width / needed)


def _clip(text: str, font: str, size: float, width: float) -> str:
    while text and stringWidth(text, font, size) > width:
        text = text[:-1]
    return text


def _expiry_text(expiry: datetime | date | str | None) -> str:
    if expiry is None:
        return ""
    if isinstance(expiry, datetime | date):
        return expiry.strftime("%Y-%m-%d")
    return str(expiry)[:10]
