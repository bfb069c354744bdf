"""Fixtures for CLI tests: the `vouchers` command run in-process (Typer's CliRunner) or as a
real process, on a fresh data directory and database, with the codes in clear at hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from support.factories import clear_codes
from vouchers.bootstrap import bootstrap
from vouchers.config import Settings
from vouchers.entrypoints.cli.main import app

# Variables the CLI reads; unset so the developer's own environment cannot leak in.
_VOUCHERS_ENV = (
    "VOUCHERS_HOME",
    "VOUCHERS_DATABASE_URL",
    "VOUCHERS_USER",
    "VOUCHERS_KEY_FILE",
    "VOUCHERS_LOOKUP_KEYS",
    "VOUCHERS_DATA_KEYS",
)
ERROR_PREFIX = "vouchers: error: "


@dataclass
class Cli:
    """The CLI bound to one data directory and database; remembers everything it printed."""

    database_url: str
    home: Path
    user: str = "alice"
    transcript: list[str] = field(default_factory=list)

    def global_options(self) -> list[str]:
        return ["--database-url", self.database_url, "--home", str(self.home)]

    def __call__(self, *args: str) -> Result:
        """Run ``vouchers <global options> *args`` in-process; stdout and stderr kept apart."""
        env: dict[str, str | None] = dict.fromkeys(_VOUCHERS_ENV)
        env["VOUCHERS_USER"] = self.user
        result = CliRunner().invoke(app, [*self.global_options(), *args], env=env)
        self.transcript += [result.stdout, result.stderr]
        return result

    def json(self, *args: str) -> Any:
        """Run a command with ``--json``, require success and return the parsed output."""
        result = self(*args, "--json")
        assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
        return json.loads(result.stdout)

    def run(self, executable: list[str], *args: str) -> subprocess.CompletedProcess[str]:
        """Run the CLI as a real process (``executable`` then the global options and args)."""
        env = {k: v for k, v in os.environ.items() if k not in _VOUCHERS_ENV}
        env |= {"VOUCHERS_USER": self.user, "PYTHONIOENCODING": "utf-8"}
        done = subprocess.run(
            [*executable, *self.global_options(), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=env,
            timeout=120,
            check=False,
        )
        self.transcript += [done.stdout, done.stderr]
        return done

    def codes_in_clear(self) -> dict[int, str]:
        """Every voucher's code, decrypted with the key file in the data directory."""
        settings = Settings.from_env({}, home=self.home, database_url=self.database_url)
        application = bootstrap(settings, environ={})
        try:
            codes: dict[int, str] = clear_codes(application)
            return codes
        finally:
            application.close()


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    """The CLI on a fresh database (SQLite and PostgreSQL) and a data directory not yet made."""
    return Cli(database_url=database_url, home=tmp_path / "home")


@pytest.fixture
def sqlite_cli(sqlite_url: str, tmp_path: Path) -> Cli:
    """The CLI on SQLite only, for what never reaches storage (usage errors, bad URLs)."""
    return Cli(database_url=sqlite_url, home=tmp_path / "home")


@pytest.fixture
def python_m() -> list[str]:
    """``python -m vouchers`` with this interpreter."""
    return [sys.executable, "-m", "vouchers"]


@pytest.fixture
def console_script() -> list[str]:
    """The installed ``vouchers`` console script, beside this interpreter."""
    script = Path(sys.executable).parent / "vouchers"
    assert script.is_file(), f"no console script at {script}"
    return [str(script)]


@pytest.fixture
def error_line() -> Callable[[str, int, int], str]:
    """Check that a failed run printed exactly one error line and exited with ``code``."""

    def check(stderr: str, exit_code: int, code: int) -> str:
        lines = stderr.splitlines()
        assert exit_code == code, stderr
        assert len(lines) == 1, f"expected one error line, got {lines!r}"
        assert lines[0].startswith(ERROR_PREFIX), lines[0]
        return lines[0].removeprefix(ERROR_PREFIX)

    return check
