"""The browser harness itself: Chromium reaches the live server and renders its assets."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_chromium_loads_the_stylesheet_and_htmx_from_the_live_server(page: Page) -> None:
    css = page.request.get("/static/vouchers.css")
    assert css.ok
    assert "--accent" in css.text()
    page.goto("/static/htmx.min.js")
    assert "htmx" in page.content()
