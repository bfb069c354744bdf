"""The `vouchers` command line end to end, on SQLite and PostgreSQL: the first slice (types,
lots, generation, masked listing, keys, migrations, demo), bad input refused with one error
line and a stable exit code, and no code in clear in anything the CLI prints."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from vouchers.domain.codes import MASK_SYMBOL

if TYPE_CHECKING:
    from conftest import Cli

ErrorLine = Callable[[str, int, int], str]

PREM = ("--name", "Premium services", "--alternative-code", "PREM", "--currency", "EUR")
DIGITS = ("--alphabet", "digits", "--currency", "USD", "--value", "10")


def named(code: str) -> tuple[str, ...]:
    return ("--name", code.title(), "--alternative-code", code)


def create_premium_lot(cli: Cli, count: int = 100) -> str:
    """Given the PREM type and a generated lot of ``count`` with prefix 12: the lot's code."""
    cli.json("types", "create", *PREM, "--value", "50.00")
    lot = cli.json("lots", "create", "--type", "PREM", "--count", str(count), "--prefix", "12")
    cli.json("lots", "generate", lot["alternative_code"])
    return str(lot["alternative_code"])


def assert_masked(code: str, total_length: int) -> None:
    """A masked display code: bullets, then exactly four visible characters."""
    characters = code.replace("-", "")
    assert len(characters) == total_length
    assert characters[:-4] == MASK_SYMBOL * (total_length - 4)
    assert MASK_SYMBOL not in characters[-4:]


def test_the_issue_slice_creates_a_type_and_a_lot_generates_it_and_lists_masked_codes(
    cli: Cli,
) -> None:
    voucher_type = cli.json("types", "create", *PREM, "--value", "50.00")
    assert voucher_type["alternative_code"] == "PREM"
    assert voucher_type["value"] == "50.00 EUR"
    assert voucher_type["created_by"] == "alice"

    draft = cli.json("lots", "create", "--type", "PREM", "--count", "100", "--prefix", "12")
    lot_code = draft["alternative_code"]
    assert lot_code.startswith("PREM")
    assert (draft["state"], draft["count"], draft["generated_count"]) == ("draft", 100, 0)
    assert draft["prefix"] == "12"

    posted = cli.json("lots", "generate", lot_code)
    assert (posted["state"], posted["generated_count"]) == ("posted", 100)
    assert posted["posted_at"] is not None

    rows = cli.json("list", "--lot", lot_code)
    assert len(rows) == 100
    numbers = [row["number"] for row in rows]
    assert numbers == list(range(numbers[0], numbers[0] + 100))
    for row in rows:
        assert_masked(row["code"], total_length=2 + 16 + 1)  # lot prefix, secret, check
        assert row["lot_id"] == draft["id"]
        assert row["value"] == "50.00 EUR"

    shown = cli.json("show", str(numbers[0]))
    assert shown == rows[0]

    human = cli("show", str(numbers[0]))
    assert human.exit_code == 0
    assert rows[0]["code"] in human.stdout


def test_lots_and_types_are_listed_and_shown_as_json_and_as_text(cli: Cli) -> None:
    lot_code = create_premium_lot(cli, count=10)

    lots = cli.json("lots", "list")
    assert [(lot["alternative_code"], lot["state"]) for lot in lots] == [(lot_code, "posted")]
    assert cli.json("lots", "show", lot_code)["generated_count"] == 10
    assert cli.json("lots", "show", str(lots[0]["id"]))["alternative_code"] == lot_code

    listed = cli("lots", "list")
    assert listed.exit_code == 0
    assert lot_code in listed.stdout
    assert "posted" in listed.stdout
    shown = cli("lots", "show", lot_code)
    assert shown.exit_code == 0
    assert "10/10 vouchers of 50.00 EUR" in shown.stdout

    types = cli.json("types", "list")
    assert [t["alternative_code"] for t in types] == ["PREM"]
    prem = cli.json("types", "show", "PREM")
    assert prem["code_format"]["entropy_bits"] == 80.0
    assert prem["code_format"]["allow_weak"] is False
    assert "PREM" in cli("types", "list").stdout
    assert "80.0 bits of entropy" in cli("types", "show", "PREM").stdout.replace("\n", " ")


def test_the_acting_user_comes_from_the_as_option_before_the_environment(cli: Cli) -> None:
    cli.json("types", "create", *PREM, "--value", "50.00")
    lot = cli.json("--as", "bob", "lots", "create", "--type", "PREM", "--count", "1")
    assert lot["created_by"] == "bob"
    assert cli.json("types", "show", "PREM")["created_by"] == "alice"


def test_a_lot_prefix_on_a_digits_type_gives_codes_of_the_right_length(cli: Cli) -> None:
    cli.json("types", "create", *named("TOPUP"), *DIGITS, "--length", "20")
    lot = cli.json("lots", "create", "--type", "TOPUP", "--count", "5", "--prefix", "12")
    generated = cli("lots", "generate", lot["alternative_code"])
    assert (generated.exit_code, generated.stderr) == (0, "")  # no progress bar off a terminal
    assert "posted: 5/5 vouchers of 10.00 USD" in generated.stdout

    rows = cli.json("list", "--lot", lot["alternative_code"])
    assert len(rows) == 5
    for row in rows:
        assert_masked(row["code"], total_length=2 + 20 + 1)
        assert row["currency"] == "USD"
    codes = cli.codes_in_clear()
    assert all(re.fullmatch(r"12\d{21}", code) for code in codes.values())
    shown_tails = [row["code"].replace("-", "")[-4:] for row in rows]
    assert shown_tails == [codes[row["number"]][-4:] for row in rows]


def test_key_rotation_reseals_every_voucher_and_listing_still_works(cli: Cli) -> None:
    lot_code = create_premium_lot(cli, count=25)
    before_codes = cli.codes_in_clear()
    before_rows = cli.json("list", "--lot", lot_code)
    status = cli.json("keys", "status")
    assert (status["current_lookup_key"], status["current_data_key"]) == (1, 1)
    assert "keys.json" in status["source"]

    rotated = cli.json("keys", "rotate")

    assert rotated["resealed"] == 25
    assert (rotated["current_lookup_key"], rotated["current_data_key"]) == (2, 2)
    status = cli.json("keys", "status")
    assert (status["lookup_keys"], status["data_keys"]) == ([2], [2])
    assert cli.json("list", "--lot", lot_code) == before_rows
    assert cli.codes_in_clear() == before_codes
    assert cli.json("keys", "rotate")["resealed"] == 25


def test_db_status_and_upgrade_report_the_head_revision(cli: Cli) -> None:
    upgraded = cli.json("db", "upgrade")
    assert upgraded["current"] == upgraded["head"]
    assert upgraded["head"]
    assert cli.json("db", "status") == upgraded
    assert cli.json("db", "upgrade") == upgraded  # a second upgrade changes nothing


def test_demo_creates_the_data_directory_and_a_second_run_adds_a_lot(cli: Cli) -> None:
    assert not cli.home.exists()

    first = cli.json("demo", "--no-serve")

    assert cli.home.is_dir()
    assert first["home"] == str(cli.home)
    assert first["lot"]["state"] == "posted"
    assert len(first["vouchers"]) == first["lot"]["generated_count"] == 10
    assert all(MASK_SYMBOL in v["code"] for v in first["vouchers"])
    assert first["refill"] == {
        "customer": "DEMO-1",
        "balance_before": "0.00 EUR",
        "balance_after": "20.00 EUR",
    }

    second = cli.json("demo", "--no-serve", "--count", "3")

    assert second["voucher_type"]["id"] == first["voucher_type"]["id"]
    assert second["lot"]["alternative_code"] != first["lot"]["alternative_code"]
    assert len(second["vouchers"]) == 3
    assert second["refill"]["balance_after"] == "40.00 EUR"
    assert {lot["alternative_code"].split("-")[0] for lot in first["seed_lots"]} == {
        "VOIPX2",
        "FXDEP",
        "NET1H",
    }
    assert second["seed_lots"] == []  # the other documents' types and lots come once
    assert first["admin"]["username"] == second["admin"]["username"] == "admin"
    assert first["admin"]["password"]
    assert second["admin"]["password"] is None  # the password is printed once
    assert first["portal"]["customer"] == "DEMO-1"
    assert first["portal"]["password"]
    assert second["portal"]["password"] is None  # set and printed once, like the admin's
    assert first["url"] is None  # --no-serve
    assert len(cli.json("types", "list")) == 5  # one type for each source document
    assert len(cli.json("lots", "list")) == 4 + 3
    assert len(cli.json("list", "--limit", "1000")) == 13 + 4 + 15


def test_no_command_ever_prints_a_full_code(cli: Cli, console_script: list[str]) -> None:
    lot_code = create_premium_lot(cli)
    numbers = [row["number"] for row in cli.json("list", "--lot", lot_code)]
    for args in (
        ("list",),
        ("list", "--lot", lot_code),
        ("lots", "list"),
        ("lots", "show", lot_code),
        ("types", "list"),
        ("types", "show", "PREM"),
        ("keys", "status"),
        ("demo", "--no-serve"),
        ("show", str(numbers[-1])),
    ):
        cli(*args)
        cli(*args, "--json")
    cli.json("keys", "rotate")
    listed = cli.json("list", "--limit", "1000")
    cli.run(console_script, "list", "--limit", "1000", "--json")
    cli("lots", "generate", lot_code)  # refused, but prints an error

    codes = cli.codes_in_clear()
    # the lot, two demo lots, two pairs of refill coupons, the other documents' three lots
    assert len(codes) == len(listed) == 124 + 15
    output = "\n".join(cli.transcript)
    flat = re.sub(r"[\s\-│┃]", "", output)  # separators, line breaks and table borders out
    for code in codes.values():
        hidden = code[2:-4]  # the part a masked code never shows (without any prefix)
        for text in (code, code.lower(), hidden, hidden.lower()):
            assert text not in flat, "a code appeared in clear in the CLI output"


# --- Bad input: one error line on stderr, a stable exit code, nothing created -------------


def test_an_unknown_voucher_type_is_refused_with_exit_3(cli: Cli, error_line: ErrorLine) -> None:
    result = cli("lots", "create", "--type", "NOPE", "--count", "3")
    assert "NOPE" in error_line(result.stderr, result.exit_code, 3)
    assert result.stdout == ""
    assert cli.json("lots", "list") == []


def test_a_zero_count_is_refused_with_exit_2_and_creates_no_lot(
    cli: Cli, error_line: ErrorLine
) -> None:
    create_premium_lot(cli, count=1)
    lots_before = cli.json("lots", "list")

    result = cli("lots", "create", "--type", "PREM", "--count", "0")

    assert "count" in error_line(result.stderr, result.exit_code, 2)
    assert cli.json("lots", "list") == lots_before


def test_a_weak_format_needs_allow_weak_and_then_shows_its_risk(
    cli: Cli, error_line: ErrorLine
) -> None:
    weak = ("types", "create", *named("SHORT"), *DIGITS, "--length", "7")
    refused = cli(*weak)
    message = error_line(refused.stderr, refused.exit_code, 2)
    assert "bits" in message
    assert "allow_weak" in message
    assert cli.json("types", "list") == []

    accepted = cli.json(*weak, "--allow-weak")

    fmt = accepted["code_format"]
    assert fmt["allow_weak"] is True
    assert fmt["entropy_bits"] == 23.3
    assert fmt["risk"]["probability"] > 0.99  # a million guesses against a million live codes


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        (("--currency", "XYZ", "--value", "1"), "XYZ"),
        (("--currency", "EUR", "--value", "12.345"), "12.345"),
        (("--currency", "EUR", "--value", "50", "--length", "3"), "4 to 64"),
    ],
    ids=["unknown-currency", "too-many-decimals", "too-short"],
)
def test_a_bad_voucher_type_is_refused_with_exit_2(
    cli: Cli, error_line: ErrorLine, options: tuple[str, ...], needle: str
) -> None:
    result = cli("types", "create", *named("BAD"), *options)
    assert needle in error_line(result.stderr, result.exit_code, 2)
    assert cli.json("types", "list") == []


def test_a_duplicate_alternative_code_is_refused_with_exit_4(
    cli: Cli, error_line: ErrorLine
) -> None:
    cli.json("types", "create", *PREM, "--value", "50.00")
    result = cli("types", "create", *PREM, "--value", "20.00")
    assert "PREM" in error_line(result.stderr, result.exit_code, 4)
    assert [t["value"] for t in cli.json("types", "list")] == ["50.00 EUR"]


def test_generating_a_posted_lot_again_is_refused_with_exit_5(
    cli: Cli, error_line: ErrorLine
) -> None:
    lot_code = create_premium_lot(cli, count=3)
    result = cli("lots", "generate", lot_code)
    error_line(result.stderr, result.exit_code, 5)
    assert len(cli.json("list")) == 3


def test_an_unknown_voucher_number_is_refused_with_exit_3(cli: Cli, error_line: ErrorLine) -> None:
    result = cli("show", "999999")
    assert "999999" in error_line(result.stderr, result.exit_code, 3)


def test_under_json_an_error_is_also_a_json_object_on_stdout(
    cli: Cli, error_line: ErrorLine
) -> None:
    result = cli("show", "999999", "--json")
    message = error_line(result.stderr, result.exit_code, 3)
    error = json.loads(result.stdout)["error"]
    assert error["message"] == message
    assert error["type"]


def test_a_database_url_nothing_can_open_is_refused_with_exit_7(
    sqlite_cli: Cli, error_line: ErrorLine
) -> None:
    sqlite_cli.database_url = "foo://x"
    result = sqlite_cli("types", "list", "--json")
    assert "foo://x" in error_line(result.stderr, result.exit_code, 7)
    assert json.loads(result.stdout)["error"]["message"]


def test_a_database_url_that_is_not_a_url_is_refused_with_exit_7(
    sqlite_cli: Cli, error_line: ErrorLine
) -> None:
    sqlite_cli.database_url = "not-a-url"
    result = sqlite_cli("types", "list")
    error_line(result.stderr, result.exit_code, 7)


# --- The real process: `python -m vouchers` and the `vouchers` console script -------------


@pytest.mark.parametrize(
    "args",
    [
        ("types", "list", "--bogus"),
        ("--bogus", "types", "list"),
        ("lots", "create", "--count", "1"),
    ],
    ids=["unknown-option", "unknown-global-option", "missing-required-option"],
)
def test_a_usage_error_is_one_line_and_exit_2_from_python_m_vouchers(
    sqlite_cli: Cli, python_m: list[str], error_line: ErrorLine, args: tuple[str, ...]
) -> None:
    done = sqlite_cli.run(python_m, *args)
    error_line(done.stderr, done.returncode, 2)
    assert done.stdout == ""


def test_a_refused_command_is_one_line_and_its_exit_code_from_python_m_vouchers(
    sqlite_cli: Cli, python_m: list[str], error_line: ErrorLine
) -> None:
    done = sqlite_cli.run(python_m, "show", "999999")
    assert "999999" in error_line(done.stderr, done.returncode, 3)


def test_the_vouchers_console_script_runs_the_demo(cli: Cli, console_script: list[str]) -> None:
    done = cli.run(console_script, "demo", "--no-serve", "--count", "3", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["database_url"] == cli.database_url
    assert len(data["vouchers"]) == 3
    assert len(cli.codes_in_clear()) == 3 + 2 + 15  # the refill coupons, the seed lots


def test_a_type_can_be_renamed_and_given_products_but_not_a_new_value(
    sqlite_cli: Cli, error_line: ErrorLine
) -> None:
    sqlite_cli.json(
        "types", "create", "--name", "Premium", "--alternative-code", "PREM",
        "--currency", "EUR", "--value", "50.00",
    )  # fmt: skip

    updated = sqlite_cli.json(
        "types", "update", "PREM", "--name", "Premium services", "--products", "gold,silver"
    )

    assert updated["name"] == "Premium services"
    assert updated["products"] == ["GOLD", "SILVER"]
    assert updated["value"] == "50.00 EUR"
    refused = sqlite_cli("types", "update", "PREM", "--validity-days", "0")
    error_line(refused.stderr, refused.exit_code, 2)
    assert sqlite_cli.json("types", "show", "PREM")["validity_days"] == 365
