"""Console sessions over the test client: signed cookies of stored sessions, CSRF, expiry,
signing out, ending sessions, throttling; and the request log's masking and request ids."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from vouchers.adapters.db import schema
from vouchers.bootstrap import App
from vouchers.entrypoints.api.logging import mask_query
from vouchers.entrypoints.api.sessions import SESSION_COOKIE
from vouchers.services import access

PASSWORD = "a long enough password"


@pytest.fixture
def olivia(app: App) -> str:
    access.create_user(
        "olivia", PASSWORD, roles=["admin"], uow=app.uow(), passwords=app.passwords,
        clock=app.clock, actor="setup",
    )  # fmt: skip
    return "olivia"


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    response = client.post("/api/v1/sessions", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    token: str = response.json()["csrf_token"]
    return token


def test_a_signed_in_user_is_known_until_the_session_expires(
    client: TestClient, app: App, olivia: str
) -> None:
    sign_in(client, olivia)
    assert client.get("/api/v1/sessions/current").json()["username"] == "olivia"

    clock = app.clock
    app.clock = lambda: clock() + timedelta(hours=app.settings.session_hours, seconds=1)

    assert client.get("/api/v1/sessions/current").status_code == 401


def test_a_tampered_session_cookie_proves_nothing(client: TestClient, olivia: str) -> None:
    sign_in(client, olivia)
    token = client.cookies[SESSION_COOKIE]
    body, _, signature = token.partition(".")
    client.cookies.set(SESSION_COOKIE, body[:-2] + "xx." + signature)

    assert client.get("/api/v1/sessions/current").status_code == 401


def test_unsafe_requests_need_the_csrf_header_with_a_cookie_but_not_with_a_key(
    client: TestClient, olivia: str, keys: dict[str, dict[str, str]]
) -> None:
    token = sign_in(client, olivia)

    forged = client.post("/api/v1/customers", json={"external_ref": "X1"})
    wrong = client.post(
        "/api/v1/customers", json={"external_ref": "X1"}, headers={"X-CSRF-Token": "nope"}
    )
    right = client.post(
        "/api/v1/customers", json={"external_ref": "X1"}, headers={"X-CSRF-Token": token}
    )
    client.cookies.clear()
    by_key = client.post("/api/v1/customers", json={"external_ref": "X2"}, headers=keys["admin"])

    assert forged.status_code == wrong.status_code == 403
    assert right.status_code == 201, right.text
    assert by_key.status_code == 201, by_key.text


def test_failed_sign_ins_are_throttled_per_username(client: TestClient, olivia: str) -> None:
    answers = [
        client.post("/api/v1/sessions", json={"username": olivia, "password": "wrong"}).status_code
        for _ in range(11)
    ]
    locked = client.post("/api/v1/sessions", json={"username": olivia, "password": PASSWORD})

    assert answers[:10] == [401] * 10
    assert answers[10] == 429
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0


def test_request_ids_are_echoed_and_codes_masked_in_the_access_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="vouchers.access"):
        answered = client.get(
            "/healthz", params={"code": "ABCD-EFGH-JKMN-PQRS"}, headers={"X-Request-ID": "r-1"}
        )
        generated = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})

    assert answered.headers["x-request-id"] == "r-1"
    assert generated.headers["x-request-id"] != "bad id with spaces"
    assert "ABCD" not in caplog.text
    assert "code=****PQRS" in caplog.text
    assert mask_query("a=1&code=123&CODE=x") == "a=1&code=****&CODE=****"
    assert mask_query("a=1") == "a=1"


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/api/v1/nothing-here")

    text = client.get("/metrics").text

    assert 'vouchers_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert 'route="unmatched",status="404"' in text


# Sessions are rows: they end at once, in every process


def test_signing_out_ends_the_session_even_for_a_copied_cookie(
    client: TestClient, olivia: str
) -> None:
    csrf = sign_in(client, olivia)
    copied = client.cookies[SESSION_COOKIE]
    assert client.delete("/api/v1/sessions", headers={"X-CSRF-Token": csrf}).status_code == 204

    client.cookies.set(SESSION_COOKIE, copied)  # the cookie, stolen before signing out
    assert client.get("/api/v1/sessions/current").status_code == 401


def test_a_new_password_or_a_deactivation_ends_every_session_of_the_user(
    client: TestClient, app: App, olivia: str
) -> None:
    sign_in(client, olivia)
    access.set_password(
        olivia, "another long password", uow=app.uow(), passwords=app.passwords,
        clock=app.clock, actor="setup",
    )  # fmt: skip
    assert client.get("/api/v1/sessions/current").status_code == 401

    sign_in(client, olivia, "another long password")
    assert client.get("/api/v1/sessions/current").status_code == 200
    access.set_user_active(olivia, False, uow=app.uow(), clock=app.clock, actor="setup")
    assert client.get("/api/v1/sessions/current").status_code == 401


def test_a_session_acts_with_the_roles_the_user_holds_now(
    client: TestClient, app: App, olivia: str
) -> None:
    sign_in(client, olivia)
    assert client.get("/api/v1/settings").status_code == 200  # admin
    with app.engine.begin() as connection:  # an administrator's direct change of roles
        connection.execute(
            update(schema.staff_users)
            .where(schema.staff_users.c.username == olivia)
            .values(roles=["support"])
        )
    assert client.get("/api/v1/sessions/current").json()["roles"] == ["support"]
    assert client.get("/api/v1/settings").status_code == 403
