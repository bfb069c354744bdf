"""The console over the test client: every form that changes something refuses the roles
without its permission (403, nothing changed) and a missing or forged CSRF token; the
sign-in form never redirects off the site; unknown addresses are 404 pages; pages carry
the security headers; and a signed-out visitor is sent to the sign-in page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from support.console import PASSWORD, STAFF, client_sign_in, make_staff
from support.factories import activate_lot, apply, clear_codes, generate_lot_with, make_type
from support.portal import PASSWORD as PORTAL_PASSWORD
from support.portal import hidden, portal_customer
from support.redeeming import customer, redeem
from vouchers.adapters.db import schema
from vouchers.bootstrap import App
from vouchers.domain.access import ROLE_PERMISSIONS, Permission, Role
from vouchers.domain.lifecycle import BusinessDefinition, Process
from vouchers.services import access, definitions, lots, runs
from vouchers.services.processes import Selection

NewClient = Callable[[], TestClient]
P = Permission

TYPE_FORM = {
    "name": "Gold",
    "alternative_code": "GOLD",
    "currency": "EUR",
    "kind": "stored_value",
    "value_option": "fixed",
    "value": "30.00",
    "length": "16",
    "group_size": "4",
    "per_customer": "unlimited",
}
NEW_PASSWORD = "another long password"

# (path, form, permission): every console form that changes something.
ROUTES: list[tuple[str, dict[str, str], Permission]] = [
    ("/console/types", TYPE_FORM, P.TYPES_WRITE),
    ("/console/definitions", {"name": "Strict", "alternative_code": "STRICT"}, P.DEFINITIONS_WRITE),
    ("/console/definitions/OTHER/activate", {}, P.DEFINITIONS_WRITE),
    ("/console/definitions/deactivate", {}, P.DEFINITIONS_WRITE),
    ("/console/lots", {"type": "PREM", "count": "3"}, P.LOTS_WRITE),
    ("/console/lots/PREM-000002/generate", {"when": "now"}, P.LOTS_GENERATE),
    ("/console/lots/PREM-000001/amend", {"count": "2", "when": "now"}, P.LOTS_WRITE),
    ("/console/lots/PREM-000001/accept", {"when": "now"}, P.VOUCHERS_ACCEPT),
    ("/console/lots/PREM-000001/reject", {"when": "now"}, P.VOUCHERS_ACCEPT),
    ("/console/lots/PREM-000001/modify", {"expires_at": "2028-01-01"}, P.LOTS_WRITE),
    ("/console/lots/PREM-000003/activate", {"when": "now"}, P.VOUCHERS_ACTIVATE),
    ("/console/lots/PREM-000004/export", {"format": "csv", "when": "now"}, P.EXPORTS_REQUEST),
    ("/console/lots/PREM-000001/cancel", {"when": "now"}, P.VOUCHERS_CANCEL),
    ("/console/lots/PREM-000001/purge", {"when": "now"}, P.VOUCHERS_PURGE),
    ("/console/vouchers/1/reveal", {"reason": "checking"}, P.VOUCHERS_REVEAL),
    ("/console/vouchers/1/qr", {"reason": "checking"}, P.VOUCHERS_REVEAL),
    ("/console/vouchers/1/accept", {"when": "now"}, P.VOUCHERS_ACCEPT),
    ("/console/vouchers/1/reject", {"when": "now"}, P.VOUCHERS_ACCEPT),
    ("/console/vouchers/1/cancel", {"when": "now"}, P.VOUCHERS_CANCEL),
    ("/console/vouchers/1/modify", {"expires_at": "2028-01-01"}, P.VOUCHERS_MODIFY),
    ("/console/runs/1/approve", {}, P.EXPORTS_APPROVE),
    ("/console/runs/2/cancel", {}, P.RUNS_CANCEL),
    ("/console/redemptions/1/reversal", {"reason": "chargeback"}, P.REDEMPTIONS_REVERSE),
    ("/console/settings", {"key": "default_expiry_days", "value": "100"}, P.SETTINGS_WRITE),
    (
        "/console/users",
        {"username": "dave", "roles": "support", "password": PASSWORD, "password_again": PASSWORD},
        P.USERS_MANAGE,
    ),
    ("/console/users/sam/deactivate", {}, P.USERS_MANAGE),
    (
        "/console/users/sam/password",
        {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD},
        P.USERS_MANAGE,
    ),
    ("/console/api-keys", {"name": "shop-2", "roles": "integration"}, P.APIKEYS_MANAGE),
    ("/console/api-keys/shop/revoke", {}, P.APIKEYS_MANAGE),
]
# Who shows that a route does work when the role may (four eyes: alice made the lots and
# bob asked for the export awaiting approval).
CONTROL = {P.EXPORTS_APPROVE: "carol", P.LOTS_GENERATE: "alice", P.LOTS_WRITE: "alice"}


def build_world(app: App) -> None:
    """Staff, lots in every state a route needs, a redemption, a run awaiting approval
    (run 1) and a run scheduled for tomorrow (run 2), an API key, two definitions."""
    make_staff(app)
    make_type(app, "PREM")
    generate_lot_with(app, "PREM", 5)  # PREM-000001: draft vouchers
    lots.create_lot("PREM", count=3, uow=app.uow(), clock=app.clock, actor="alice")  # 000002
    accepted = generate_lot_with(app, "PREM", 4)  # PREM-000003: accepted
    apply(app, Process.ACCEPT, Selection(lot=accepted))
    activated = generate_lot_with(app, "PREM", 4)  # PREM-000004: activated
    activate_lot(app, activated)
    customer(app, "C1")
    codes = clear_codes(app)
    redeem(app, codes[max(codes)], "C1")
    runs.request_run(
        Process.EXPORT, {"lot": activated, "format": "csv"}, uow=app.uow(), clock=app.clock,
        actor="bob",
    )  # fmt: skip
    runs.request_run(
        Process.ACCEPT, {"lot": "PREM-000001"}, uow=app.uow(), clock=app.clock, actor="bob",
        scheduled_for=app.clock() + timedelta(days=1),
    )  # fmt: skip
    access.create_api_key("shop", roles=["integration"], uow=app.uow(), clock=app.clock, actor="t")
    for code, active in (("BASE", True), ("OTHER", False)):
        definitions.create_definition(
            BusinessDefinition(code, code.title()), uow=app.uow(), clock=app.clock, actor="t",
            activate=active,
        )  # fmt: skip


def snapshot(app: App) -> dict[str, Any]:
    """Every row of every table but the sign-ins (``sessions``), to prove that nothing
    changed."""
    with app.engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(map(repr, row)) for row in connection.execute(select(table))), key=str
            )
            for table in schema.metadata.sorted_tables
            if table.name != "sessions"
        }


def signed_in(new_client: NewClient, username: str) -> tuple[TestClient, str]:
    client = new_client()
    return client, client_sign_in(client, username)


def roles_without(permission: Permission) -> list[str]:
    return [name for name, role in STAFF.items() if permission not in ROLE_PERMISSIONS[Role(role)]]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("path", "form", "permission"), ROUTES, ids=[f"{p}:{path}" for path, _, p in ROUTES]
)
def test_a_form_refuses_every_role_without_its_permission_and_changes_nothing(
    app: App, new_client: NewClient, path: str, form: dict[str, str], permission: Permission
) -> None:
    # Given the world, and every staff user signed in
    build_world(app)
    clients = {name: signed_in(new_client, name) for name in STAFF}
    before = snapshot(app)

    # When each role without the permission posts the form with a valid CSRF token
    refused = roles_without(permission)
    assert refused, "every route is refused to someone"
    for name in refused:
        client, token = clients[name]
        answer = client.post(path, data={**form, "csrf_token": token})

        # Then the answer is the 403 page, and nothing changed
        assert answer.status_code == 403, (name, answer.status_code, answer.text[:300])
        assert "Not allowed" in answer.text
        assert answer.headers["content-type"].startswith("text/html")
    assert snapshot(app) == before

    # And a role with the permission does change something (the test can fail)
    allowed = CONTROL.get(permission) or next(
        n for n, r in STAFF.items() if permission in ROLE_PERMISSIONS[Role(r)]
    )
    client, token = clients[allowed]
    answer = client.post(path, data={**form, "csrf_token": token})
    assert answer.status_code in (200, 201, 303), answer.text[:500]
    assert snapshot(app) != before


def test_a_form_without_the_session_csrf_token_is_refused_and_changes_nothing(
    app: App, new_client: NewClient
) -> None:
    make_staff(app, "root")
    client, token = signed_in(new_client, "root")
    before = snapshot(app)

    for sent in ({}, {"csrf_token": ""}, {"csrf_token": "forged" + token[6:]}):
        answer = client.post("/console/settings", data={"key": "default_expiry_days",
                                                        "value": "9", **sent})  # fmt: skip
        assert answer.status_code == 403
        assert "stale or forged" in answer.text
    # another user's token does not do either
    _, other = signed_in(new_client, "root")
    assert other != token
    answer = client.post("/console/settings", data={"key": "default_expiry_days",
                                                    "value": "9", "csrf_token": other})  # fmt: skip
    assert answer.status_code == 403
    assert snapshot(app) == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_sign_in_form_needs_its_own_token(app: App, new_client: NewClient) -> None:
    make_staff(app, "root")
    client = new_client()
    client.get("/console/sign-in")
    answer = client.post(
        "/console/sign-in",
        data={"username": "root", "password": PASSWORD, "sign_in_token": "made-up"},
    )
    assert answer.status_code == 403
    assert "vouchers_session" not in answer.cookies


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/console",
        "//evil.example/console",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/console:evil",
        "http:/evil.example",
        "/console/\nLocation: https://evil.example",
        "",
    ],
)
def test_signing_in_never_redirects_off_the_site(
    app: App, new_client: NewClient, target: str
) -> None:
    make_staff(app, "root")
    client = new_client()
    assert client_sign_in(client, "root", next_path=target)
    # client_sign_in checked the 303; look at where it pointed
    again = new_client()
    page = again.get("/console/sign-in", params={"next": target})
    assert f'value="{target}"' not in page.text or target == ""
    token = page.text.split('name="sign_in_token" value="')[1].split('"')[0]
    answer = again.post(
        "/console/sign-in",
        data={"username": "root", "password": PASSWORD, "sign_in_token": token, "next": target},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_signing_in_returns_to_the_page_asked_for(app: App, new_client: NewClient) -> None:
    make_staff(app, "root")
    client = new_client()
    first = client.get("/console/lots?type=PREM")
    assert first.status_code == 303
    assert first.headers["location"] == "/console/sign-in?next=/console/lots%3Ftype%3DPREM"
    client_sign_in(client, "root", next_path="/console/lots?type=PREM")
    again = new_client()
    form = again.get(first.headers["location"])
    token = form.text.split('name="sign_in_token" value="')[1].split('"')[0]
    answer = again.post(
        "/console/sign-in",
        data={"username": "root", "password": PASSWORD, "sign_in_token": token,
              "next": "/console/lots?type=PREM"},
    )  # fmt: skip
    assert answer.headers["location"] == "/console/lots?type=PREM"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_wrong_password_shows_the_form_again_and_is_throttled(
    app: App, new_client: NewClient
) -> None:
    make_staff(app, "root")
    client = new_client()
    statuses = []
    for _ in range(11):
        form = client.get("/console/sign-in")
        token = form.text.split('name="sign_in_token" value="')[1].split('"')[0]
        answer = client.post(
            "/console/sign-in",
            data={"username": "root", "password": "wrong password!", "sign_in_token": token},
        )
        statuses.append(answer.status_code)
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429
    assert "invalid username or password" not in answer.text
    assert "too many failed sign-ins" in answer.text


@pytest.mark.parametrize(
    "path",
    [
        "/console/nowhere",
        "/console/lots/NO-SUCH-LOT",
        "/console/types/NOPE",
        "/console/vouchers/987654",
        "/console/vouchers/not-a-number",
        "/console/runs/42",
        "/console/runs/x",
        "/console/customers/NOBODY",
        "/console/customers/%00bad",
    ],
)
def test_an_unknown_address_is_the_404_page(app: App, new_client: NewClient, path: str) -> None:
    make_staff(app, "root")
    client, _ = signed_in(new_client, "root")
    answer = client.get(path)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in answer.text
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_pages_send_security_headers_and_are_never_cached(app: App, new_client: NewClient) -> None:
    make_staff(app, "bob")
    make_type(app, "PREM")
    generate_lot_with(app, "PREM", 1)
    client, token = signed_in(new_client, "bob")
    for answer in (
        client.get("/console"),
        client.get("/console/vouchers/1"),
        client.post("/console/vouchers/1/reveal", data={"reason": "audit", "csrf_token": token}),
        new_client().get("/console/sign-in"),
    ):
        assert answer.status_code == 200
        headers = answer.headers
        assert headers["cache-control"] == "no-store"
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_root_and_every_page_send_a_signed_out_visitor_to_sign_in(
    new_client: NewClient,
) -> None:
    client = new_client()
    assert client.get("/").headers["location"] == "/console"
    answer = client.get("/console")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/sign-in?next=/console"
    post = client.post("/console/types", data=TYPE_FORM)
    assert post.status_code == 303
    assert post.headers["location"].startswith("/console/sign-in")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_bad_form_is_shown_again_with_its_errors_never_a_500(
    app: App, new_client: NewClient
) -> None:
    make_staff(app, "root")
    make_type(app, "PREM")
    client, token = signed_in(new_client, "root")
    cases = [
        ("/console/types", {**TYPE_FORM, "currency": "XYZ", "length": "abc"}),
        ("/console/types", {**TYPE_FORM, "value": "12.345"}),
        ("/console/types", {**TYPE_FORM, "alternative_code": "bad code!"}),
        ("/console/lots", {"type": "PREM", "count": "0"}),
        ("/console/lots", {"type": "NOPE", "count": "5"}),
        ("/console/lots", {"type": "PREM", "count": "5", "expires_at": "31/12/2027"}),
        ("/console/definitions", {"name": "", "alternative_code": "x y"}),
        ("/console/settings", {"key": "no_such_setting", "value": "1"}),
        ("/console/users", {"username": "Bad Name", "roles": "wizard", "password": "x"}),
        ("/console/api-keys", {"name": "", "roles": ""}),
        ("/console/lots/PREM-000001/generate", {"when": "later", "scheduled_for": "soon"}),
    ]
    for path, form in cases:
        answer = client.post(path, data={**form, "csrf_token": token})
        assert answer.status_code in (404, 422), (path, form, answer.status_code)
        assert 'class="error' in answer.text, (path, form)
    # Control characters never reach the database (PostgreSQL refuses NUL in text)
    answer = client.post(
        "/console/lots",
        data={"type": "PREM", "count": "5", "description": "nul\x00byte", "csrf_token": token},
    )
    assert answer.status_code == 303
    assert "nulbyte" in client.get(answer.headers["location"]).text


def test_a_voucher_search_pages_through_the_keyset(app: App, new_client: NewClient) -> None:
    make_staff(app, "sam")
    make_type(app, "PREM")
    generate_lot_with(app, "PREM", 120)
    client, _ = signed_in(new_client, "sam")
    numbers: list[int] = []
    url = "/console/vouchers?lot=PREM-000001"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        numbers += [int(n) for n in _voucher_numbers(page.text)]
        url = _next_link(page.text)
    assert numbers == list(range(1, 121))


def _voucher_numbers(html: str) -> list[str]:
    return re.findall(r'<td class="num"><a href="/console/vouchers/(\d+)">', html)


def _next_link(html: str) -> str:
    found = re.search(r'<a href="(/console/vouchers\?[^"]+)" rel="next">', html)
    return "" if found is None else found.group(1).replace("&amp;", "&")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_customer_signed_in_to_the_portal_is_nobody_in_the_console(
    app: App, new_client: NewClient
) -> None:
    portal_customer(app, "C1")
    client = new_client()
    page = client.get("/portal/sign-in")
    signed_in = client.post(
        "/portal/sign-in",
        data={
            "customer": "C1",
            "password": PORTAL_PASSWORD,
            "next": "/portal",
            "signin_token": hidden(page.text, "signin_token"),
        },
    )
    assert signed_in.status_code == 303
    assert client.get("/portal").status_code == 200
    for path in ("/console", "/console/vouchers", "/console/customers/C1"):
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/console/sign-in")
    # The sign-in page then shows its form (no redirect back to /console: a loop), and no
    # console page shows the customer the staff menu.
    sign_in = client.get("/console/sign-in?next=/console/vouchers")
    assert sign_in.status_code == 200
    assert 'name="sign_in_token"' in sign_in.text
    missing = client.get("/console/no-such-page")
    assert missing.status_code == 404
    assert "console-menu" not in missing.text
    assert "/console/sign-out" not in missing.text
