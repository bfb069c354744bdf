"""Staff users and API keys through the `vouchers` command, on SQLite and PostgreSQL:
passwords from the environment or a prompt (never argv), keys shown once and checked,
revocation, and the exit codes (2 bad input, 3 not found, 4 taken, 11 refused key)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from vouchers.bootstrap import bootstrap
from vouchers.config import Settings
from vouchers.entrypoints.cli.main import app
from vouchers.errors import AuthenticationError
from vouchers.services import access

if TYPE_CHECKING:
    from conftest import Cli

ErrorLine = Callable[[str, int, int], str]
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def password_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAFF_PW", PASSWORD)


def signs_in(cli: Cli, username: str, password: str) -> bool:
    """Whether the stored user signs in with ``password`` (through the service, as the
    HTTP API will)."""
    settings = Settings.from_env({}, home=cli.home, database_url=cli.database_url)
    application = bootstrap(settings, environ={})
    try:
        access.verify_password(
            username, password, uow=application.uow(), passwords=application.passwords
        )
    except AuthenticationError:
        return False
    finally:
        application.close()
    return True


def test_a_user_is_created_listed_and_signs_in_with_the_password_from_the_environment(
    cli: Cli,
) -> None:
    created = cli.json(
        "users", "create", "Alice", "--role", "finance", "--role", "auditor",
        "--name", "Alice Adams", "--password-env", "STAFF_PW",
    )  # fmt: skip
    assert created["username"] == "alice"
    assert created["roles"] == ["auditor", "finance"]
    assert created["created_by"] == "alice"  # the --as user
    listed = cli.json("users", "list")
    assert [u["username"] for u in listed] == ["alice"]
    assert "argon2" not in json.dumps(listed)
    assert signs_in(cli, "alice", PASSWORD)
    human = cli("users", "list")
    assert "Alice Adams" in human.stdout
    assert PASSWORD not in "".join(cli.transcript)


def test_a_password_is_prompted_for_twice_when_no_variable_is_named(cli: Cli) -> None:
    cli.json("users", "create", "bob", "--role", "operator", "--password-env", "STAFF_PW")
    runner = CliRunner()
    result = runner.invoke(
        app,
        [*cli.global_options(), "users", "passwd", "bob"],
        input="a brand new passphrase\na brand new passphrase\n",
        env={"VOUCHERS_USER": "root"},
    )
    assert result.exit_code == 0, result.stderr
    assert "password changed for bob" in result.stdout
    assert "a brand new passphrase" not in result.stdout  # hidden input is not echoed
    assert signs_in(cli, "bob", "a brand new passphrase")
    assert not signs_in(cli, "bob", PASSWORD)


def test_user_mistakes_get_their_exit_codes(cli: Cli, error_line: ErrorLine) -> None:
    cli.json("users", "create", "alice", "--role", "admin", "--password-env", "STAFF_PW")
    taken = cli("users", "create", "alice", "--role", "admin", "--password-env", "STAFF_PW")
    assert "exists" in error_line(taken.stderr, taken.exit_code, 4)
    no_role = cli("users", "create", "carol", "--password-env", "STAFF_PW")
    assert "--role" in error_line(no_role.stderr, no_role.exit_code, 2)
    bad_role = cli(
        "users", "create", "carol", "--role", "integration", "--password-env", "STAFF_PW"
    )
    assert "cannot hold the role integration" in error_line(bad_role.stderr, bad_role.exit_code, 2)
    unset = cli("users", "create", "carol", "--role", "admin", "--password-env", "NOT_SET_ANYWHERE")
    assert "NOT_SET_ANYWHERE" in error_line(unset.stderr, unset.exit_code, 2)
    unknown = cli("users", "passwd", "nobody", "--password-env", "STAFF_PW")
    assert "nobody" in error_line(unknown.stderr, unknown.exit_code, 3)
    argv = cli("users", "create", "carol", "--role", "admin", "--password", PASSWORD)
    assert argv.exit_code == 2  # there is no way to give a password on the command line


def test_a_disabled_user_cannot_sign_in_until_enabled(cli: Cli) -> None:
    cli.json("users", "create", "dave", "--role", "support", "--password-env", "STAFF_PW")
    assert cli.json("users", "disable", "dave")["active"] is False
    assert not signs_in(cli, "dave", PASSWORD)
    assert cli.json("users", "enable", "dave")["active"] is True
    assert signs_in(cli, "dave", PASSWORD)


def test_an_api_key_is_shown_once_checks_until_revoked_then_exits_11(
    cli: Cli, error_line: ErrorLine, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli.json("customers", "create", "--ref", "C1")
    created = cli.json(
        "apikeys", "create", "--name", "shop", "--role", "integration", "--customer", "C1"
    )
    key = created["key"]
    assert key.startswith(f"vk_{created['key_id']}_")
    assert (created["roles"], created["customer"]) == (["integration"], "C1")

    listed = cli.json("apikeys", "list")
    assert [k["name"] for k in listed] == ["shop"]
    assert "key" not in listed[0]
    assert key.rsplit("_", 1)[1] not in cli("apikeys", "list").stdout

    monkeypatch.setenv("SHOP_KEY", key)
    checked = cli.json("apikeys", "check", "--key-env", "SHOP_KEY")
    assert checked["name"] == "shop"
    assert checked["kind"] == "api_key"
    assert checked["customer_id"] is not None

    revoked = cli.json("apikeys", "revoke", "shop")
    assert revoked["revoked_by"] == "alice"
    refused = cli("apikeys", "check", "--key-env", "SHOP_KEY")
    assert error_line(refused.stderr, refused.exit_code, 11) == "invalid API key"
    refused_json = cli("apikeys", "check", "--key-env", "SHOP_KEY", "--json")
    assert json.loads(refused_json.stdout)["error"]["type"] == "unauthenticated"
    assert [k["revoked_at"] is not None for k in cli.json("apikeys", "list")] == [True]


def test_the_human_create_prints_the_key_on_its_own_first_line(cli: Cli) -> None:
    result = cli("apikeys", "create", "--name", "ci", "--role", "operator")
    assert result.exit_code == 0, result.stderr
    first, *rest = result.stdout.splitlines()
    assert first.startswith("vk_")
    assert "not shown again" in rest[-1]


def test_api_key_mistakes_get_their_exit_codes(cli: Cli, error_line: ErrorLine) -> None:
    cli.json("apikeys", "create", "--name", "shop", "--role", "integration")
    taken = cli("apikeys", "create", "--name", "shop", "--role", "integration")
    assert "exists" in error_line(taken.stderr, taken.exit_code, 4)
    no_customer = cli(
        "apikeys", "create", "--name", "x", "--role", "integration", "--customer", "NOPE"
    )
    assert "NOPE" in error_line(no_customer.stderr, no_customer.exit_code, 3)
    bad_role = cli("apikeys", "create", "--name", "x", "--role", "customer")
    assert "customer" in error_line(bad_role.stderr, bad_role.exit_code, 2)
    unknown = cli("apikeys", "revoke", "nope")
    assert "nope" in error_line(unknown.stderr, unknown.exit_code, 3)
