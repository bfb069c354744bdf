"""Importing codes from another system, on SQLite and PostgreSQL: sealed like generated
codes, in a new posted lot with a contiguous number block, redeemable after the four-eyes
activation; refused rows reported by line and reason, and nothing imported unless the
whole file passes (or ``skip_invalid``); one voucher's QR code recorded like a reveal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import zxingcpp
from PIL import Image

from support.factories import (
    activate_lot,
    all_secrets,
    clear_codes,
    generate,
    history_rows,
    make_type,
    voucher_rows,
)
from support.redeeming import customer, redeem
from vouchers.adapters.qr import render_qr
from vouchers.bootstrap import App
from vouchers.domain.codes import DIGITS, CheckMethod, CodeFormat
from vouchers.domain.imports import RejectReason
from vouchers.domain.lots import LotState
from vouchers.domain.voucher_types import ValueOption
from vouchers.errors import DuplicateError, ValidationError
from vouchers.services import lots
from vouchers.services.imports import ImportReport, import_csv
from vouchers.services.qr_codes import QrFormat, voucher_qr

DEFAULT = CodeFormat()
# The refill-coupon table's codes: 7-digit pins from another system, no check character.
PINS = CodeFormat(alphabet=DIGITS, length=5, prefix="12", check=CheckMethod.NONE, allow_weak=True)


def run_import(app: App, text: str, type_code: str = "PREM", **options: object) -> ImportReport:
    return import_csv(
        text,
        type_ref=type_code,
        uow=app.uow(),
        vault=app.vault,
        clock=app.clock,
        actor="alice",
        **options,  # type: ignore[arg-type]
    )


def csv_of(*codes: str, header: str = "code") -> str:
    return "\n".join([header, *codes]) + "\n"


def test_imported_codes_are_sealed_numbered_posted_and_redeem_after_activation(app: App) -> None:
    # Given a type and a file of codes written by another system, in display form
    make_type(app, "PREM")
    codes = DEFAULT.generate(5)
    report = run_import(app, csv_of(*(DEFAULT.display(c).lower() for c in codes)), lot_code="OLD")

    # then one posted lot holds them, numbered from one contiguous block
    assert report.imported == 5
    assert report.rejected == []
    (lot,) = report.lots
    assert lot.alternative_code == "OLD"
    assert lot.state is LotState.POSTED
    assert lot.generated_count == lot.count == 5
    rows = voucher_rows(app)
    numbers = sorted(rows)
    assert numbers == list(range(lot.first_number or 0, (lot.first_number or 0) + 5))
    # sealed like generated codes: digest and ciphertext, never the code in clear
    assert sorted(clear_codes(app).values()) == sorted(codes)
    for number, row in rows.items():
        assert row["lookup_digest"] == app.vault.digest(clear_codes(app)[number])
        assert row["state"] == "draft"
        assert row["value_minor"] == 5000

    # when a second user accepts and activates the lot, every imported code redeems
    activate_lot(app, "OLD")
    customer(app, "C1")
    for code in codes:
        assert redeem(app, DEFAULT.display(code)).value_minor == 5000


def test_a_file_with_any_bad_row_imports_nothing_and_lists_every_refusal(app: App) -> None:
    make_type(app, "PREM")
    good = DEFAULT.generate(3)
    typo = good[0][:-1] + ("0" if good[0][-1] != "0" else "1")
    rows = (good[0], good[1], typo, good[0], "", "ABC", good[2] + "X")
    text = csv_of(*(f"{code},n" for code in rows), header="code,note")

    report = run_import(app, text)

    assert report.imported == 0
    assert report.lots == []
    assert [(r.line, r.reason) for r in report.rejected] == [
        (4, RejectReason.CHECK),
        (5, RejectReason.DUPLICATE_IN_FILE),
        (6, RejectReason.MISSING_CODE),
        (7, RejectReason.LENGTH),
        (8, RejectReason.LENGTH),
    ]
    assert "line 2" in report.rejected[1].message
    assert all(good[0] not in r.message for r in report.rejected)
    assert all_secrets(app) == []


def test_skip_invalid_imports_only_the_valid_rows(app: App) -> None:
    make_type(app, "PREM")
    good = DEFAULT.generate(2)
    report = run_import(app, csv_of(good[0], "NOT A CODE!", good[1]), skip_invalid=True)

    assert report.imported == 2
    assert [(r.line, r.reason) for r in report.rejected] == [(3, RejectReason.ALPHABET)]
    assert sorted(clear_codes(app).values()) == sorted(good)


def test_codes_that_exist_already_are_refused(app: App) -> None:
    # Given vouchers generated here, and an earlier import
    make_type(app, "PREM")
    generate(app, "PREM", 3)
    existing = sorted(clear_codes(app).values())
    earlier = DEFAULT.generate(1)
    run_import(app, csv_of(*earlier))
    fresh = DEFAULT.generate(1)

    # when a file repeats them
    report = run_import(app, csv_of(fresh[0], existing[1], earlier[0]))

    # then those rows are refused and nothing is imported
    assert [(r.line, r.reason) for r in report.rejected] == [
        (3, RejectReason.ALREADY_EXISTS),
        (4, RejectReason.ALREADY_EXISTS),
    ]
    assert report.imported == 0
    assert len(all_secrets(app)) == 4
    # with skip_invalid the fresh code alone goes in
    assert run_import(app, csv_of(fresh[0], existing[1]), skip_invalid=True).imported == 1


def test_refill_coupon_pins_are_checked_against_a_weak_digits_format(app: App) -> None:
    # Given a type whose codes are the refill-coupon table's 7-digit pins starting with 12
    make_type(app, "REFILL", code_format=PINS, value_minor=1000)
    text = csv_of("1234567", "12-345-68", "1334567", "123456", "12345AB", "1234567")

    report = run_import(app, text, "REFILL", skip_invalid=True)

    assert report.imported == 2
    assert [(r.line, r.reason) for r in report.rejected] == [
        (4, RejectReason.PREFIX),
        (5, RejectReason.LENGTH),
        (6, RejectReason.ALPHABET),
        (7, RejectReason.DUPLICATE_IN_FILE),
    ]
    activate_lot(app, report.lots[0].alternative_code)
    customer(app, "C1")
    assert redeem(app, "1234567").value_minor == 1000
    assert redeem(app, "12 345 68").value_minor == 1000


def test_a_code_checked_by_a_strong_format_is_refused_as_a_pin(app: App) -> None:
    make_type(app, "PREM")
    report = run_import(app, csv_of("1234567"))
    assert [r.reason for r in report.rejected] == [RejectReason.LENGTH]


def test_rows_with_values_expiry_and_prefix_go_into_one_lot_each(app: App) -> None:
    # Given a variable-value type with digit codes
    digits = CodeFormat(alphabet=DIGITS, length=20)
    make_type(app, "TOPUP", code_format=digits, value_option=ValueOption.VARIABLE, value_minor=None)
    five, ten = digits.generate(2), [*digits.generate(1)]
    prefixed = CodeFormat(alphabet=DIGITS, length=20, prefix="99").generate(1)
    text = "\n".join(
        [
            "code;value;expiry;prefix;used",
            f"{five[0]};5.00;2027-06-30;;false",
            f"{ten[0]};10;;;false",
            f"{five[1]};5.00 EUR;2027-06-30;;false",
            f"{prefixed[0]};;;99;true",
        ]
    )

    report = run_import(app, text, "TOPUP", lot_code="LEGACY", value_minor=700)

    assert report.rejected == []
    assert report.ignored_columns == ("used",)
    summary = [
        (lot.alternative_code, lot.count, lot.value_minor, lot.prefix) for lot in report.lots
    ]
    assert summary == [
        ("LEGACY-1", 2, 500, None),
        ("LEGACY-2", 1, 1000, None),
        ("LEGACY-3", 1, 700, "99"),
    ]
    assert report.lots[0].expires_at == datetime(2027, 6, 30, tzinfo=UTC)
    firsts = [lot.first_number or 0 for lot in report.lots]
    assert firsts == [firsts[0], firsts[0] + 2, firsts[0] + 3]  # one contiguous block


def test_values_and_expiry_that_do_not_fit_are_refused(app: App) -> None:
    make_type(app, "PREM")
    codes = DEFAULT.generate(4)
    text = "\n".join(
        [
            "code,value,expires_at",
            f"{codes[0]},40.00,",
            f"{codes[1]},50.00 USD,",
            f"{codes[2]},,2020-01-01",
            f"{codes[3]},50.00,someday",
        ]
    )
    report = run_import(app, text)
    assert [r.reason for r in report.rejected] == [RejectReason.VALUE] * 2 + [
        RejectReason.EXPIRY
    ] * 2


def test_files_without_a_code_column_or_rows_are_refused(app: App) -> None:
    make_type(app, "PREM")
    with pytest.raises(ValidationError, match="'code' column"):
        run_import(app, "number,value\n1,2\n")
    with pytest.raises(ValidationError, match="no rows"):
        run_import(app, "code\n\n")


def test_a_taken_lot_code_is_refused(app: App) -> None:
    make_type(app, "PREM")
    lots.create_lot("PREM", count=1, uow=app.uow(), clock=app.clock, actor="alice",
                    alternative_code="TAKEN")  # fmt: skip
    with pytest.raises(DuplicateError):
        run_import(app, csv_of(*DEFAULT.generate(1)), lot_code="TAKEN")
    assert all_secrets(app) == []


@pytest.mark.parametrize("fmt", list(QrFormat))
def test_a_vouchers_qr_code_opens_the_redemption_page_and_is_recorded(
    app: App, fmt: QrFormat, tmp_path
) -> None:
    make_type(app, "PREM")
    codes = DEFAULT.generate(1)
    lot = run_import(app, csv_of(*codes)).lots[0]
    number = lot.first_number or 0

    drawn = voucher_qr(
        number,
        fmt=fmt,
        reason="customer lost the card",
        uow=app.uow(),
        vault=app.vault,
        clock=app.clock,
        actor="carol",
        render=render_qr,
        redeem_url="https://vouchers.example/redeem",
    )

    expected = f"https://vouchers.example/redeem?code={DEFAULT.display(codes[0])}"
    if fmt is QrFormat.PNG:
        path = tmp_path / "qr.png"
        path.write_bytes(drawn.image)
        assert [r.text for r in zxingcpp.read_barcodes(Image.open(path))] == [expected]
    else:
        assert drawn.image.startswith(b"<?xml")
        assert b"<svg" in drawn.image
    (reveal,) = history_rows(app, process="reveal")
    assert reveal["by"] == "carol"
    assert reveal["voucher_number"] == number
    assert reveal["note"] == f"customer lost the card (QR code, {fmt})"


def test_a_qr_code_needs_a_reason(app: App) -> None:
    make_type(app, "PREM")
    number = run_import(app, csv_of(*DEFAULT.generate(1))).lots[0].first_number or 0
    with pytest.raises(ValidationError, match="say why"):
        voucher_qr(number, fmt="png", reason=" ", uow=app.uow(), vault=app.vault,
                   clock=app.clock, actor="carol", render=render_qr)  # fmt: skip
    assert history_rows(app, process="reveal") == []
