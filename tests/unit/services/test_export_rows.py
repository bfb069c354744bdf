"""The pieces an export's rows are made of, checked against the slow, obvious versions:
code grouping cut by precomputed slices, CSV lines joined without the csv module whenever
nothing needs quoting, and XML escaping of codes."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from vouchers.adapters.exports.csvfile import write_csv
from vouchers.adapters.exports.xmlfile import NAMESPACE, write_xml
from vouchers.domain.codes import CROCKFORD, CodeFormat, custom_alphabet
from vouchers.domain.exports import COLUMNS, ExportRow
from vouchers.services.exports import _grouper
from vouchers.services.ports import ExportMeta

formats = st.builds(
    CodeFormat,
    alphabet=st.sampled_from([CROCKFORD, custom_alphabet('0123456789,"<&')]),
    length=st.integers(min_value=4, max_value=40),
    group_size=st.integers(min_value=0, max_value=16),
    allow_weak=st.just(True),
)


@given(code_format=formats, extra=st.integers(min_value=-3, max_value=3), data=st.data())
def test_grouping_by_slices_is_the_formats_own_grouping(
    code_format: CodeFormat, extra: int, data: st.DataObject
) -> None:
    length = max(0, code_format.total_length + extra)  # wrong lengths too
    code = data.draw(
        st.text(alphabet=code_format.alphabet.symbols, min_size=length, max_size=length)
    )
    assert _grouper(code_format)(code) == code_format.group(code)


@st.composite
def export_rows(draw: st.DrawFn) -> list[ExportRow]:
    """Rows whose text holds some (often none) of the characters csv quotes for."""
    quoted = draw(st.sets(st.sampled_from(',"\r\n')))
    text = st.text(alphabet="AZ09-.: é" + "".join(sorted(quoted)), max_size=6)
    number = st.integers(min_value=1, max_value=10**12)
    return draw(st.lists(st.builds(ExportRow, number, *[text] * 9), max_size=30))


@given(rows=export_rows())
def test_csv_lines_are_what_the_csv_module_writes(rows: list[ExportRow]) -> None:
    expected = io.StringIO()
    csv.writer(expected, lineterminator="\r\n").writerows([COLUMNS, *rows])
    out = io.BytesIO()
    write_csv(rows, out)
    assert out.getvalue() == expected.getvalue().encode()


def test_xml_escapes_codes_of_alphabets_holding_markup() -> None:
    row = ExportRow(7, "A<&>1", "A<-&>1", "1.00", "0.00", "EUR", "x", "y", "L&1", "T<1")
    out = io.BytesIO()
    write_xml([row], out, ExportMeta(1, "L&1", datetime(2026, 1, 1, tzinfo=UTC), "bob"))
    voucher = ET.fromstring(out.getvalue()).find("v:voucher", {"v": NAMESPACE})
    assert voucher is not None
    texts = [element.text for element in voucher]
    assert texts == ["A<&>1", "A<-&>1", "1.00", "0.00", "EUR", "x", "y", "L&1", "T<1"]
