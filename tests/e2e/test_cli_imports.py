"""``vouchers import`` and ``vouchers qr`` through the CLI, on SQLite and PostgreSQL: a
refused file imports nothing and exits 2 with every refused row listed; ``--skip-invalid``
imports the rest; imported codes redeem after a second user activates their lot."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from vouchers.domain.codes import CodeFormat
from vouchers.entrypoints.cli import imports, qr_codes
from vouchers.entrypoints.cli.main import app

if TYPE_CHECKING:
    from conftest import Cli

DEFAULT = CodeFormat()
PREM = ("--name", "Premium", "--alternative-code", "PREM", "--currency", "EUR", "--value", "50.00")


@pytest.fixture(autouse=True)
def _registered() -> None:
    """Until main.py registers them, add the commands to the root app for these tests."""
    names = {command.name for command in app.registered_commands}
    if "import" not in names:
        imports.register(app)
    if "qr" not in names:
        qr_codes.register(app)


def write(tmp_path: Path, *codes: str) -> str:
    path = tmp_path / "codes.csv"
    path.write_text("code\n" + "\n".join(codes) + "\n", encoding="utf-8")
    return str(path)


def test_an_imported_file_redeems_after_activation(cli: Cli, tmp_path: Path) -> None:
    # Given a type and a file of codes from another system
    cli.json("types", "create", *PREM)
    codes = [DEFAULT.display(code) for code in DEFAULT.generate(3)]

    # when alice imports it and bob accepts and activates the lot
    report = cli.json("import", write(tmp_path, *codes), "--type", "PREM", "--lot", "OLD")
    assert report["imported"] == 3
    assert report["lots"][0]["state"] == "posted"
    cli.json("--as", "bob", "lots", "accept", "OLD")
    cli.json("--as", "bob", "activate", "--lot", "OLD")

    # then each code redeems once, and again is refused
    cli.json("customers", "create", "--ref", "C1")
    for code in codes:
        assert cli.json("redeem", code, "--customer", "C1")["paid"] == "50.00 EUR"
    assert cli("redeem", codes[0], "--customer", "C1").exit_code == 9


def test_a_file_with_refused_rows_imports_nothing_unless_told(cli: Cli, tmp_path: Path) -> None:
    cli.json("types", "create", *PREM)
    good = DEFAULT.generate(2)
    path = write(tmp_path, good[0], "1234567", good[1], good[0])

    refused = cli("import", path, "--type", "PREM")
    assert refused.exit_code == 2
    assert "nothing imported: 2 of 4 rows refused" in refused.stderr
    assert "duplicate_in_file" in refused.stderr
    assert good[0] not in refused.stderr + refused.stdout
    assert cli.codes_in_clear() == {}

    done = cli.json("import", path, "--type", "PREM", "--skip-invalid")
    assert done["imported"] == 2
    assert [(r["line"], r["reason"]) for r in done["rejected"]] == [
        (3, "length"),
        (5, "duplicate_in_file"),
    ]
    assert sorted(cli.codes_in_clear().values()) == sorted(good)


def test_a_missing_file_is_one_error_line(cli: Cli, tmp_path: Path, error_line) -> None:
    result = cli("import", str(tmp_path / "nope.csv"), "--type", "PREM")
    assert "cannot read" in error_line(result.stderr, result.exit_code, 2)


def test_a_qr_code_is_written_and_recorded(cli: Cli, tmp_path: Path) -> None:
    cli.json("types", "create", *PREM)
    report = cli.json("import", write(tmp_path, *DEFAULT.generate(1)), "--type", "PREM")
    number = str(report["lots"][0]["first_number"])
    out = tmp_path / "qr.svg"

    result = cli("qr", number, "--reason", "reprint", "--format", "svg", "--out", str(out))

    assert result.exit_code == 0, result.stderr
    assert b"<svg" in out.read_bytes()
    notes = [row["note"] for row in cli.json("history", number)]
    assert "reprint (QR code, svg)" in notes
