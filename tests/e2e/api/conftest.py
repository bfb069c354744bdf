"""Fixtures for API tests: the FastAPI app over the storage ``app`` (both databases), a
test client, and an API key per role."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from vouchers.bootstrap import App, bootstrap
from vouchers.config import Settings
from vouchers.entrypoints.api.app import create_app
from vouchers.services import access, customers

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
STAFF_ROLES = ("admin", "operator", "finance", "support", "auditor", "integration")


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[App]:
    """The app on a fresh database with keys in a fresh data directory and a fixed clock."""
    settings = Settings.from_env({}, home=tmp_path / "home", database_url=database_url, actor="t")
    application = bootstrap(settings, environ={}, clock=lambda: NOW)
    yield application
    application.close()


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    """A client of the API; requests without headers are anonymous."""
    with TestClient(create_app(app), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def keys(app: App) -> dict[str, dict[str, str]]:
    """``Authorization`` headers by role, plus ``customer:C1`` (an integration key confined
    to customer C1) and ``second-finance`` (a finance key of another holder, for four-eyes)."""
    headers: dict[str, dict[str, str]] = {}

    def issue(name: str, role: str, customer_ref: str | None = None) -> dict[str, str]:
        issued = access.create_api_key(
            name, roles=[role], uow=app.uow(), clock=app.clock, actor="setup",
            customer_ref=customer_ref,
        )  # fmt: skip
        return {"Authorization": f"Bearer {issued.key}"}

    for role in STAFF_ROLES:
        headers[role] = issue(role, role)
    headers["second-finance"] = issue("second-finance", "finance")
    customers.create_customer("C1", uow=app.uow(), clock=app.clock, actor="setup")
    headers["customer:C1"] = issue("shop-c1", "integration", customer_ref="C1")
    return headers
