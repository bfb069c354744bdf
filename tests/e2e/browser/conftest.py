"""Fixtures for browser tests: the app on both databases, a live server over it, and a
fresh Chromium page per test (Playwright, synchronous API)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from support.browser import chromium_path, live_server
from support.require import require_or_skip
from vouchers.bootstrap import App, bootstrap
from vouchers.config import Settings
from vouchers.entrypoints.api.app import create_app

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """Playwright's driver, started once."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """The system's headless Chromium, launched once for the session."""
    executable = chromium_path()
    if executable is None:
        require_or_skip(
            "browser: no Chromium found (install Debian's package `chromium`, "
            "or set VOUCHERS_CHROMIUM to a Chromium binary)"
        )
    chromium = playwright.chromium.launch(
        executable_path=executable, headless=True, args=["--no-sandbox"]
    )
    yield chromium
    chromium.close()


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[App]:
    """The app on a fresh database, keys in a fresh data directory, a fixed clock."""
    settings = Settings.from_env({}, home=tmp_path / "home", database_url=database_url, actor="t")
    application = bootstrap(settings, environ={}, clock=lambda: NOW)
    yield application
    application.close()


@pytest.fixture
def base_url(app: App) -> Iterator[str]:
    """A real HTTP server over ``app`` on 127.0.0.1; its base URL."""
    with live_server(create_app(app)) as url:
        yield url


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page, resolving paths against ``base_url``."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
