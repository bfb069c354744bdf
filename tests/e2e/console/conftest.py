"""Fixtures for the console's HTTP tests: the app on both databases and test clients, each
with a cookie jar of its own (one per signed-in user)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vouchers.bootstrap import App, bootstrap
from vouchers.config import Settings
from vouchers.entrypoints.api.app import create_app

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[App]:
    """The app on a fresh database, keys in a fresh data directory, a fixed clock."""
    settings = Settings.from_env({}, home=tmp_path / "home", database_url=database_url, actor="t")
    application = bootstrap(settings, environ={}, clock=lambda: NOW)
    yield application
    application.close()


@pytest.fixture
def api(app: App) -> FastAPI:
    return create_app(app)


@pytest.fixture
def new_client(api: FastAPI) -> Iterator[Callable[[], TestClient]]:
    """Clients of the same app, each with its own cookies; redirects are not followed."""
    made: list[TestClient] = []

    def make() -> TestClient:
        client = TestClient(api, raise_server_exceptions=False, follow_redirects=False)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
