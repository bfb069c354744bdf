"""The customer portal over the test client, on both databases: customer passwords set by
staff (API), password sign-in with its throttle and login-CSRF token, signed links, the
customer session's reach into the API, CSRF on portal forms, the redemption page keeping
codes out of addresses and logs, and the headers every portal page sends."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from support.portal import (
    PASSWORD,
    REFILL,
    alerts,
    double_topup,
    enable_links,
    hidden,
    portal_customer,
    refill_coupons,
    signed_link,
)
from vouchers.bootstrap import App
from vouchers.entrypoints.api.sessions import CSRF_COOKIE, SESSION_COOKIE
from vouchers.entrypoints.web.portal.pages import REDEEM_COOKIE, safe_next, try_again
from vouchers.services import access, customers, settings
from vouchers.services import portal as portal_service

API = "/api/v1"
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
Keys = dict[str, dict[str, str]]


def sign_in(
    client: TestClient, ref: str = "C1", password: str = PASSWORD, next_path: str = "/portal"
) -> Response:
    """Fill in the portal's sign-in form as a browser would (token from page and cookie)."""
    page = client.get("/portal/sign-in")
    return client.post(
        "/portal/sign-in",
        data={
            "customer": ref,
            "password": password,
            "next": next_path,
            "signin_token": hidden(page.text, "signin_token"),
        },
        follow_redirects=False,
    )


def csrf(client: TestClient) -> str:
    return hidden(client.get("/portal").text, "csrf_token")


# Passwords set by staff


def test_staff_set_and_reset_a_customer_password_through_the_api(
    app: App, client: TestClient, keys: Keys
) -> None:
    portal_customer(app, "C2", password=None)
    url = f"{API}/customers/C2/password"

    assert client.post(url, json={"password": PASSWORD}, headers=keys["admin"]).status_code == 204
    assert sign_in(client, "C2").status_code == 303
    client.cookies.clear()
    reset = client.post(url, json={"password": "another long one!"}, headers=keys["integration"])

    assert reset.status_code == 204
    assert sign_in(client, "C2").status_code == 401
    assert sign_in(client, "C2", "another long one!").status_code == 303
    refused = {
        name: client.post(url, json={"password": PASSWORD}, headers=keys[name]).status_code
        for name in ("operator", "finance", "support", "auditor", "customer:C1")
    }
    assert set(refused.values()) == {403}, refused
    assert client.post(url, json={"password": "short"}, headers=keys["admin"]).status_code == 422
    unknown = client.post(
        f"{API}/customers/C9/password", json={"password": PASSWORD}, headers=keys["admin"]
    )
    assert unknown.status_code == 404


def test_failed_portal_sign_ins_are_throttled_per_account(app: App, client: TestClient) -> None:
    portal_customer(app)
    answers = [sign_in(client, "C1", "wrong password").status_code for _ in range(10)]

    locked = sign_in(client, "C1", PASSWORD)

    assert answers == [401] * 10
    assert locked.status_code == 429
    (message,) = alerts(locked.text)
    assert message == "Too many failed sign-ins. You can try again in 15 minutes (at 12:15 UTC)."
    assert SESSION_COOKIE not in locked.cookies


def test_a_sign_in_post_without_the_forms_own_token_is_refused(
    app: App, client: TestClient
) -> None:
    """Login CSRF: another site cannot sign a visitor in to an account of its choosing."""
    portal_customer(app)
    client.get("/portal/sign-in")
    forged = client.post(
        "/portal/sign-in",
        data={"customer": "C1", "password": PASSWORD, "signin_token": "guessed"},
        follow_redirects=False,
    )
    client.cookies.clear()
    cookieless = client.post(
        "/portal/sign-in",
        data={"customer": "C1", "password": PASSWORD, "signin_token": "x"},
        follow_redirects=False,
    )

    assert forged.status_code == cookieless.status_code == 403
    assert SESSION_COOKIE not in forged.cookies
    assert "expired" in alerts(forged.text)[0]


@pytest.mark.parametrize(
    ("asked", "lands"),
    [
        ("/portal/redemptions/3", "/portal/redemptions/3"),
        ("https://evil.example/portal", "/portal"),
        ("//evil.example/portal", "/portal"),
        ("/\\evil.example", "/portal"),
        ("/console/users", "/portal"),
        ("/portal/link?customer=C1", "/portal"),
        ("/redeem?code=1234", "/redeem"),
        ("", "/portal"),
    ],
)
def test_sign_in_goes_only_to_portal_pages_never_elsewhere(asked: str, lands: str) -> None:
    assert safe_next(asked) == lands


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (1, "1 second (at 12:01 UTC)"),
        (45, "45 seconds (at 12:01 UTC)"),
        (60, "1 minute (at 12:01 UTC)"),
        (61, "2 minutes (at 12:02 UTC)"),
        (3600, "60 minutes (at 13:00 UTC)"),
        (7200, "2 hours (at 14:00 UTC)"),
        (86_400, "24 hours (at 28 Nov 2026 12:00 UTC)"),
    ],
)
def test_a_wait_is_said_in_words_and_as_a_time_never_too_early(seconds: int, said: str) -> None:
    assert try_again(seconds, NOW) == f"You can try again in {said}."


# Sessions: a customer's reach


def test_a_customer_session_reaches_only_its_own_account_in_the_api(
    app: App, client: TestClient, keys: Keys
) -> None:
    portal_customer(app, "C2", name="Bea")
    assert sign_in(client, "C2").status_code == 303
    token = client.cookies[CSRF_COOKIE]
    unsafe = {"X-CSRF-Token": token}

    me = client.get(f"{API}/sessions/current").json()
    own = client.get(f"{API}/customers/C2/wallets")
    other = client.get(f"{API}/customers/C1/wallets")
    staff_only = {
        "list customers": client.get(f"{API}/customers"),
        "create customer": client.post(
            f"{API}/customers", json={"external_ref": "X1"}, headers=unsafe
        ),
        "update itself": client.patch(
            f"{API}/customers/C2", json={"kyc_verified": True}, headers=unsafe
        ),
        "set a password": client.post(
            f"{API}/customers/C2/password", json={"password": PASSWORD}, headers=unsafe
        ),
        "lots": client.get(f"{API}/lots"),
        "types": client.get(f"{API}/voucher-types"),
        "ledger": client.get(f"{API}/ledger/entries"),
        "settings": client.get(f"{API}/settings"),
        "debit": client.post(
            f"{API}/customers/C2/debits",
            json={"amount": "1.00", "currency": "EUR"},
            headers=unsafe,
        ),
    }

    assert (me["username"], me["kind"], me["roles"]) == ("C2", "customer", ["customer"])
    assert own.status_code == 200
    assert other.status_code == 404
    refused = {what: r.status_code for what, r in staff_only.items()}
    assert set(refused.values()) == {403}, refused


def test_staff_sessions_still_sign_in_and_a_staff_session_is_not_a_portal_customer(
    app: App, client: TestClient
) -> None:
    access.create_user(
        "olivia", PASSWORD, roles=["admin"], uow=app.uow(), passwords=app.passwords,
        clock=app.clock, actor="setup",
    )  # fmt: skip
    staff = client.post(f"{API}/sessions", json={"username": "olivia", "password": PASSWORD})
    assert staff.status_code == 201

    portal = client.get("/portal", follow_redirects=False)

    assert client.get(f"{API}/sessions/current").json()["kind"] == "staff"
    assert portal.status_code == 303
    assert portal.headers["location"] == "/portal/sign-in?next=/portal"


# Signed links


def test_a_signed_link_signs_in_once_and_a_reload_keeps_the_session(
    app: App, client: TestClient
) -> None:
    enable_links(app)
    portal_customer(app, password=None)
    link = signed_link(app, "C1")

    first = client.get(f"/portal/link?{link.query()}", follow_redirects=False)
    reload = client.get(f"/portal/link?{link.query()}", follow_redirects=False)
    client.cookies.clear()
    replay = client.get(f"/portal/link?{link.query()}", follow_redirects=False)

    assert (first.status_code, first.headers["location"]) == (303, "/portal")
    assert SESSION_COOKIE in first.cookies
    assert (reload.status_code, reload.headers["location"]) == (303, "/portal")
    assert replay.status_code == 401
    assert "used already" in alerts(replay.text)[0]
    assert SESSION_COOKIE not in replay.cookies


@pytest.mark.parametrize("flaw", ["expired", "tampered", "other key", "unknown customer"])
def test_a_bad_signed_link_is_refused_with_a_page(app: App, client: TestClient, flaw: str) -> None:
    enable_links(app)
    portal_customer(app, password=None)
    link = {
        "expired": lambda: signed_link(app, "C1", seconds=-1),
        "tampered": lambda: signed_link(app, "C1"),
        "other key": lambda: signed_link(app, "C1", key="x" * 40),
        "unknown customer": lambda: signed_link(app, "C9"),
    }[flaw]()
    query = (
        link.query().replace("customer=C1", "customer=C2") if flaw == "tampered" else link.query()
    )

    refused = client.get(f"/portal/link?{query}", follow_redirects=False)

    assert refused.status_code == 401
    assert SESSION_COOKIE not in refused.cookies
    (message,) = alerts(refused.text)
    expected = {"expired": "expired", "unknown customer": "no customer C9"}.get(flaw, "not valid")
    assert expected in message
    assert refused.headers["referrer-policy"] == "no-referrer"


def test_links_are_refused_while_no_secret_is_configured(app: App, client: TestClient) -> None:
    portal_customer(app, password=None)
    link = signed_link(app, "C1")

    assert client.get(f"/portal/link?{link.query()}").status_code == 401


# Forms and the redemption page


def test_a_portal_form_without_the_sessions_csrf_token_is_refused_and_redeems_nothing(
    app: App, client: TestClient
) -> None:
    portal_customer(app)
    (code,) = refill_coupons(app, 1)
    sign_in(client)

    forged = client.post("/portal/redeem", data={"code": code})
    wrong = client.post("/portal/redeem", data={"code": code, "csrf_token": "nope"})
    fine = client.post(
        "/portal/redeem", data={"code": code, "csrf_token": csrf(client)}, follow_redirects=False
    )

    assert forged.status_code == wrong.status_code == 403
    assert "stale or forged" in alerts(forged.text)[0]
    assert fine.status_code == 303
    assert fine.headers["location"].startswith("/portal/redemptions/")


def test_the_redemption_page_keeps_the_code_out_of_addresses_and_the_access_log(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    portal_customer(app)
    (code,) = refill_coupons(app, 1)

    with caplog.at_level(logging.INFO, logger="vouchers.access"):
        scanned = client.get(f"/redeem?code={code}", follow_redirects=False)
        asked = client.get("/redeem")
        signed = sign_in(client, next_path=hidden(asked.text, "next"))
        confirm = client.get(signed.headers["location"])
        done = client.post(
            "/redeem",
            data={"csrf_token": hidden(confirm.text, "csrf_token")},
            follow_redirects=False,
        )

    assert (scanned.status_code, scanned.headers["location"]) == (303, "/redeem")
    assert scanned.cookies[REDEEM_COOKIE] == code
    assert "Path=/redeem" in scanned.headers["set-cookie"]
    assert "HttpOnly" in scanned.headers["set-cookie"]
    assert code[-4:] in asked.text
    assert code not in asked.text
    assert signed.headers["location"] == "/redeem"
    assert code not in confirm.text
    assert done.status_code == 303
    assert done.headers["location"].startswith("/portal/redemptions/")
    assert REDEEM_COOKIE not in client.cookies  # forgotten once redeemed
    paths = [getattr(r, "path", "") for r in caplog.records]
    assert f"/redeem?code=****{code[-4:]}" in paths
    assert code not in caplog.text
    assert code[:8] not in caplog.text


def test_the_sig_of_a_sign_in_link_is_masked_in_the_access_log(
    app: App, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    enable_links(app)
    portal_customer(app, password=None)
    link = signed_link(app, "C1")

    with caplog.at_level(logging.INFO, logger="vouchers.access"):
        client.get(f"/portal/link?{link.query()}", follow_redirects=False)

    assert link.signature not in caplog.text
    assert f"sig=****{link.signature[-4:]}" in caplog.text


def test_every_portal_answer_sends_no_referrer_and_is_not_cached_or_framed(
    app: App, client: TestClient
) -> None:
    portal_customer(app)
    answers = {
        "redeem with code": client.get("/redeem?code=ABCD-EFGH", follow_redirects=False),
        "redeem": client.get("/redeem"),
        "portal, signed out": client.get("/portal", follow_redirects=False),
        "sign-in": client.get("/portal/sign-in"),
        "bad link": client.get("/portal/link"),
        "forged form": client.post("/portal/redeem", data={}),
    }
    sign_in(client)
    answers["portal"] = client.get("/portal")
    answers["not found"] = client.get("/portal/redemptions/99")
    answers["no such page"] = client.get("/portal/redemptions/abc")
    answers["no such address"] = client.get("/portal/no/such/page")

    for what, response in answers.items():
        assert response.headers["referrer-policy"] == "no-referrer", what
        assert response.headers["cache-control"] == "no-store", what
        assert response.headers["x-frame-options"] == "DENY", what
    missing = ("not found", "no such page", "no such address")
    assert {answers[what].status_code for what in missing} == {404}
    assert alerts(answers["no such page"].text) == ["There is no such page."]
    assert alerts(answers["no such address"].text) == ["There is no such page."]


def test_an_unexpected_error_is_a_portal_page_with_the_portal_headers(
    app: App, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a signed-in customer and a bug behind the account page
    portal_customer(app)
    sign_in(client)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(portal_service, "portal_account", broken)
    # When the page is asked for
    answer = client.get("/portal")
    # Then it is the portal's error page, never cached, without the bug's words
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert alerts(answer.text) == ["Something went wrong on our side. Please try again later."]
    assert "a bug" not in answer.text


def test_a_wrong_guess_a_typo_and_a_lock_out_read_as_customers_should_read_them(
    app: App, client: TestClient
) -> None:
    settings.set_setting(
        "lockout_guesses_per_customer", "3", uow=app.uow(), clock=app.clock, actor="setup"
    )
    portal_customer(app)
    (code,) = refill_coupons(app, 1)
    sign_in(client)
    token = csrf(client)
    typo = code[:-1] + ("1" if code[-1] != "1" else "2")

    def use(typed: str) -> Response:
        return client.post("/portal/redeem", data={"code": typed, "csrf_token": token})

    mistyped = use(typo)
    guesses = [use(guess) for guess in REFILL["code_format"].generate(3)]
    locked = use(code)

    assert mistyped.status_code == 422
    assert alerts(mistyped.text) == [
        "This code looks mistyped. Check it against your card and try again."
    ]
    assert typo in mistyped.text  # the customer's own typing comes back, to correct it
    assert [g.status_code for g in guesses] == [422] * 3
    assert alerts(guesses[0].text) == ["This code is not valid or can no longer be used."]
    assert locked.status_code == 429
    assert alerts(locked.text) == [
        "Too many wrong codes. You can try again in 60 minutes (at 13:00 UTC)."
    ]


def test_a_customer_session_expires_like_a_staff_one(app: App, client: TestClient) -> None:
    portal_customer(app)
    sign_in(client)
    assert client.get("/portal").status_code == 200
    clock = app.clock
    app.clock = lambda: clock() + timedelta(hours=app.settings.session_hours, seconds=1)

    expired = client.get("/portal", follow_redirects=False)

    assert expired.status_code == 303
    assert expired.headers["location"].startswith("/portal/sign-in")


def test_a_customer_declares_a_top_up_only_where_the_operator_allows_it(
    app: App, client: TestClient, keys: Keys
) -> None:
    portal_customer(app, "C2")
    first, second = double_topup(app, 2)
    sign_in(client, "C2")
    unsafe = {"X-CSRF-Token": client.cookies[CSRF_COOKIE]}
    body = {"code": first, "customer": "C2", "amount": "1000.00"}

    by_session = client.post(f"{API}/redemptions", json=body, headers=unsafe)
    paying = client.post(
        f"{API}/redemptions", json={**body, "code": second, "amount": None,
        "payment_reference": "PAY-1"}, headers=unsafe,
    )  # fmt: skip
    in_portal = client.post(
        "/portal/redeem", data={"code": first, "amount": "1000.00", "csrf_token": csrf(client)}
    )
    form = client.get("/portal").text

    assert by_session.status_code == paying.status_code == in_portal.status_code == 403
    assert "top up with your provider" in by_session.json()["detail"]
    assert alerts(in_portal.text) == [
        "Top-up amounts are not taken here: top up with your provider, who applies the voucher."
    ]
    assert 'name="amount"' not in form
    client.cookies.clear()
    by_host = client.post(
        f"{API}/redemptions",
        json={**body, "amount": "50.00", "payment_reference": "PAY-1"},
        headers=keys["integration"],
    )
    assert by_host.status_code == 201, by_host.text

    settings.set_setting("portal_topups", "on", uow=app.uow(), clock=app.clock, actor="setup")
    sign_in(client, "C2")
    allowed = client.post(
        "/portal/redeem",
        data={"code": second, "amount": "50.00", "csrf_token": csrf(client)},
        follow_redirects=True,
    )
    assert allowed.status_code == 200
    assert "+50.00 EUR" in allowed.text


def test_a_new_password_or_a_block_signs_the_customer_out_of_the_portal(
    app: App, client: TestClient
) -> None:
    portal_customer(app)
    assert sign_in(client).status_code == 303
    assert client.get("/portal", follow_redirects=False).status_code == 200

    customers.set_customer_password(
        "C1", "a brand new password", uow=app.uow(), passwords=app.passwords,
        clock=app.clock, actor="support",
    )  # fmt: skip
    assert client.get("/portal", follow_redirects=False).status_code == 303  # to sign-in

    assert sign_in(client, password="a brand new password").status_code == 303
    assert client.get("/portal", follow_redirects=False).status_code == 200
    customers.update_customer(
        "C1", {"status": "blocked"}, uow=app.uow(), clock=app.clock, actor="support"
    )
    assert client.get("/portal", follow_redirects=False).status_code == 303


def test_signing_out_of_the_portal_ends_the_session_for_a_copied_cookie(
    app: App, client: TestClient
) -> None:
    portal_customer(app)
    sign_in(client)
    copied = client.cookies[SESSION_COOKIE]
    out = client.post("/portal/sign-out", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set(SESSION_COOKIE, copied)
    assert client.get("/portal", follow_redirects=False).status_code == 303
