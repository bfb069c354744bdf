"""QR codes (segno) and PDF card sheets (ReportLab): pages are rendered to PNG with pdfium
and every QR code on them is decoded back to its redemption URL with zxing-cpp."""

from __future__ import annotations

import io
import time
import xml.etree.ElementTree as ET

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image

from vouchers.adapters.pdf import Card, render_pdf_sheets
from vouchers.adapters.qr import render_qr
from vouchers.domain.codes import CodeFormat
from vouchers.errors import ValidationError
from vouchers.services.qr_codes import DEFAULT_REDEEM_URL, QrFormat, redemption_url

FORMAT = CodeFormat()


def cards(count: int, first: int = 1000) -> list[Card]:
    codes = FORMAT.generate(count)
    return [
        Card(first + i, FORMAT.display(code), "50.00 EUR", "2027-11-27")
        for i, code in enumerate(codes)
    ]


def pages_as_images(pdf: bytes, dpi: int = 200) -> list[Image.Image]:
    document = pdfium.PdfDocument(pdf)
    return [page.render(scale=dpi / 72).to_pil() for page in document]


def decoded(image: Image.Image) -> set[str]:
    return {result.text for result in zxingcpp.read_barcodes(image)}


def test_the_redemption_url_carries_the_code_percent_encoded() -> None:
    assert redemption_url("ABCD-EFGH") == f"{DEFAULT_REDEEM_URL}?code=ABCD-EFGH"
    assert redemption_url("A&B#C", "https://x.example/r?lang=en") == (
        "https://x.example/r?lang=en&code=A%26B%23C"
    )
    with pytest.raises(ValidationError):
        redemption_url("ABCD", "javascript:alert(1)")


def test_a_png_qr_code_decodes_to_its_content() -> None:
    url = redemption_url("7K3M-9QWE-RTY2-ZX4C5")
    image = Image.open(io.BytesIO(render_qr(url, QrFormat.PNG)))
    assert decoded(image) == {url}


def test_an_svg_qr_code_is_an_svg_document() -> None:
    svg = render_qr("https://x.example/redeem?code=1", QrFormat.SVG)
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.find("{http://www.w3.org/2000/svg}path") is not None


@pytest.mark.parametrize(("page", "columns", "rows"), [("A4", 2, 5), ("Letter", 3, 8)])
def test_every_card_on_a_sheet_has_a_qr_code_that_decodes_back(
    page: str, columns: int, rows: int
) -> None:
    # Given more cards than one page holds
    per_page = columns * rows
    batch = cards(per_page + 3)
    out = io.BytesIO()

    pages = render_pdf_sheets(
        iter(batch), out, operator="Acme Telecom", page=page, columns=columns, rows=rows,  # type: ignore[arg-type]
        redeem_url="https://acme.example/redeem",
    )  # fmt: skip

    # then the cards fill two pages, and every QR code on them opens its own code
    assert pages == 2
    images = pages_as_images(out.getvalue())
    assert len(images) == 2
    found = decoded(images[0]) | decoded(images[1])
    assert found == {f"https://acme.example/redeem?code={card.code}" for card in batch}
    width, height = pdfium.PdfDocument(out.getvalue())[0].get_size()
    assert (round(width), round(height)) == ((595, 842) if page == "A4" else (612, 792))


def test_the_sheet_prints_the_card_text(tmp_path) -> None:
    card = cards(1)[0]
    path = tmp_path / "sheet.pdf"
    render_pdf_sheets([card], path, operator="Acme Telecom")
    text = pdfium.PdfDocument(path)[0].get_textpage().get_text_range()
    for expected in ("Acme Telecom", "50.00 EUR", card.code, "No. 1000", "2027-11-27"):
        assert expected in text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"page": "A3"}, "A4 or Letter"),
        ({"columns": 0}, "at least one"),
        ({"columns": 6, "rows": 5}, "do not fit"),
        ({"rows": 20}, "do not fit"),
    ],
)
def test_a_grid_that_does_not_fit_is_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        render_pdf_sheets([], io.BytesIO(), operator="Acme", **options)  # type: ignore[arg-type]


def test_no_cards_still_make_a_valid_pdf() -> None:
    out = io.BytesIO()
    assert render_pdf_sheets([], out, operator="Acme") == 1
    assert len(pdfium.PdfDocument(out.getvalue())) == 1


@pytest.mark.slow
def test_sheets_for_a_thousand_vouchers_take_at_most_fifteen_seconds() -> None:
    batch = cards(1000)
    out = io.BytesIO()
    started = time.perf_counter()
    pages = render_pdf_sheets(batch, out, operator="Acme Telecom")
    elapsed = time.perf_counter() - started
    assert pages == 100
    assert elapsed <= 15, f"1,000 cards took {elapsed:.1f} s"
    # Sheets use one fixed QR mask (no scoring): every code still decodes; every 10th page
    images = pages_as_images(out.getvalue(), dpi=150)
    for page in range(0, 100, 10):
        expected = {redemption_url(card.code) for card in batch[page * 10 : page * 10 + 10]}
        assert decoded(images[page]) == expected
