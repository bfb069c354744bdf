"""Suite-wide fixtures: a database per test, on SQLite and on a throwaway PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # makes tests/support importable as `support`

from support.postgres import EXTERNAL_URL_ENV, PostgresServer, server_from_environment
from support.require import require_or_skip

_POSTGRES_FIXTURES = {"postgres_server", "postgres_url"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tag tests that ask for PostgreSQL directly, so `-m "not postgres"` leaves them out."""
    for item in items:
        if _POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session, started on first use, stopped at the end."""
    server = server_from_environment()
    if server is None:
        require_or_skip(
            "PostgreSQL: no server binaries (initdb, pg_ctl) found under /usr/lib/postgresql/*/bin,"
            f" `pg_config --bindir` or PATH, and {EXTERNAL_URL_ENV} is not set"
        )
    with server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped after the test."""
    with postgres_server.temporary_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of an empty SQLite database file (not created yet) in the test's tmp_path."""
    return f"sqlite:///{tmp_path}/vouchers.db"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """URL of a fresh, empty database: the test runs once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url
