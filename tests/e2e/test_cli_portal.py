"""The customer portal from the `vouchers` command, on SQLite and PostgreSQL: staff set a
customer's portal password (prompted or from stdin), and `portal link` prints a link the
server accepts once."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from typer.testing import CliRunner, Result

from support.portal import LINK_KEY, PASSWORD
from vouchers.bootstrap import bootstrap
from vouchers.config import Settings
from vouchers.entrypoints.cli.main import app as cli_app
from vouchers.services import portal

if TYPE_CHECKING:
    from conftest import Cli

ErrorLine = Callable[[str, int, int], str]


def run(cli: Cli, *args: str, keys: str | None = None, stdin: str | None = None) -> Result:
    """The CLI with VOUCHERS_PORTAL_LINK_KEYS set (or unset) and the given stdin."""
    env = {
        "VOUCHERS_HOME": None,
        "VOUCHERS_DATABASE_URL": None,
        "VOUCHERS_USER": cli.user,
        "VOUCHERS_PORTAL_LINK_KEYS": keys,
    }
    return CliRunner().invoke(cli_app, [*cli.global_options(), *args], env=env, input=stdin)


def test_staff_set_a_portal_password_from_stdin_or_a_prompt(cli: Cli) -> None:
    cli.json("customers", "create", "--ref", "C1")

    piped = run(cli, "customers", "set-password", "C1", "--password-stdin", "--json",
                stdin=PASSWORD + "\n")  # fmt: skip
    prompted = run(cli, "customers", "set-password", "C1", stdin="another long one!\n" * 2)

    assert piped.exit_code == 0, piped.stderr
    assert json.loads(piped.stdout) == {"external_ref": "C1", "password_set": True}
    assert prompted.exit_code == 0, prompted.stderr
    assert "portal password set for C1" in prompted.stdout
    settings = Settings.from_env({}, home=cli.home, database_url=cli.database_url)
    app = bootstrap(settings, environ={})
    try:
        signed_in = portal.sign_in_with_password(
            "C1", "another long one!", uow=app.uow(), passwords=app.passwords, clock=app.clock
        )
    finally:
        app.close()
    assert signed_in.name == "C1"


def test_a_short_password_or_an_unknown_customer_is_refused(
    cli: Cli, error_line: ErrorLine
) -> None:
    cli.json("customers", "create", "--ref", "C1")

    short = run(cli, "customers", "set-password", "C1", "--password-stdin", stdin="short\n")
    unknown = run(cli, "customers", "set-password", "C9", "--password-stdin", stdin=PASSWORD)

    assert "at least 12" in error_line(short.stderr, short.exit_code, 2)
    assert "C9" in error_line(unknown.stderr, unknown.exit_code, 3)


def test_portal_link_prints_a_link_signed_with_the_first_secret(cli: Cli) -> None:
    cli.json("customers", "create", "--ref", "acct:42")
    before = int(datetime.now(UTC).timestamp())

    secrets = f"{LINK_KEY},{'o' * 40}"
    printed = run(cli, "portal", "link", "acct:42", "--minutes", "10",
                  "--base-url", "https://vouchers.example", keys=secrets)  # fmt: skip
    as_json = run(cli, "portal", "link", "acct:42", "--json", keys=LINK_KEY)

    assert printed.exit_code == 0, printed.stderr
    url = printed.stdout.strip()
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "vouchers.example", "/portal/link")
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert query["customer"] == "acct:42"
    assert before + 600 <= int(query["expires"]) <= before + 660
    data = json.loads(as_json.stdout)
    assert data["url"].startswith("http://127.0.0.1:8000/portal/link?customer=acct%3A42&")
    settings = Settings.from_env({}, home=cli.home, database_url=cli.database_url)
    app = bootstrap(settings, environ={})
    try:
        principal = portal.sign_in_with_link(
            query["customer"], query["expires"], query["sig"],
            keys=(LINK_KEY,), uow=app.uow(), clock=app.clock,
        )  # fmt: skip
    finally:
        app.close()
    assert principal.name == "acct:42"


def test_portal_link_needs_a_secret_a_known_customer_and_a_sane_lifetime(
    cli: Cli, error_line: ErrorLine
) -> None:
    cli.json("customers", "create", "--ref", "C1")

    no_key = run(cli, "portal", "link", "C1")
    unknown = run(cli, "portal", "link", "C9", keys=LINK_KEY)
    too_long = run(cli, "portal", "link", "C1", "--minutes", "61", keys=LINK_KEY)
    weak_key = run(cli, "portal", "link", "C1", keys="short")

    assert "VOUCHERS_PORTAL_LINK_KEYS" in error_line(no_key.stderr, no_key.exit_code, 2)
    assert "C9" in error_line(unknown.stderr, unknown.exit_code, 3)
    assert too_long.exit_code == 2
    assert "at least 32 characters" in error_line(weak_key.stderr, weak_key.exit_code, 2)
