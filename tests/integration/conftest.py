"""Fixtures for storage tests: a bootstrapped app on each database, with a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vouchers.bootstrap import App, bootstrap
from vouchers.config import Settings

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[App]:
    """The app on a fresh database (migrated to head) with keys in a fresh data directory."""
    settings = Settings.from_env(
        {}, home=tmp_path / "home", database_url=database_url, actor="alice"
    )
    application = bootstrap(settings, environ={}, clock=lambda: NOW)
    yield application
    application.close()
