"""Helpers for the staff console's tests: staff users by role, and signing in through the
sign-in form (a real browser, or the test client)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from vouchers.adapters.passwords import Argon2Hasher
from vouchers.bootstrap import App
from vouchers.services import access

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from playwright.sync_api import Page

PASSWORD = "a long enough password"
STAFF = {
    "alice": "operator",
    "bob": "finance",
    "carol": "finance",
    "sam": "support",
    "audrey": "auditor",
    "root": "admin",
}
"""Usernames and their one role: alice makes lots, bob and carol check them."""


def make_staff(app: App, *names: str) -> None:
    """Create the named users of ``STAFF`` (all of them when none is named).

    Switches ``app`` to the cheapest Argon2 parameters first: signing in many times stays
    fast, and the hashes never need re-hashing under these parameters.
    """
    app.passwords = Argon2Hasher.for_tests()
    for name in names or tuple(STAFF):
        access.create_user(
            name, PASSWORD, roles=[STAFF[name]], uow=app.uow(), passwords=app.passwords,
            clock=app.clock, actor="setup",
        )  # fmt: skip


def sign_in(page: Page, username: str, *, path: str = "/console") -> None:
    """Sign in through the form (starting at ``path``, which the form returns to)."""
    page.goto(path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/console(?!/sign-in).*"))


def client_sign_in(client: TestClient, username: str, next_path: str = "/console") -> str:
    """Sign in with the test client; returns the session's CSRF token for forms."""
    form = client.get("/console/sign-in")
    token = re.search(r'name="sign_in_token" value="([^"]+)"', form.text)
    assert token is not None, form.text
    answer = client.post(
        "/console/sign-in",
        data={"username": username, "password": PASSWORD, "sign_in_token": token.group(1),
              "next": next_path},
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 303, answer.text
    return str(client.cookies["vouchers_csrf"])
