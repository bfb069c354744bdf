"""Customers, wallets, redemptions, reversals, debits, the ledger and settings over HTTP,
on both databases: exact amounts, idempotency, lock-outs, object-level checks and bad input
answered with problem documents (never a 500)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from support.redeeming import customer, issue
from vouchers.adapters.db import schema
from vouchers.bootstrap import App
from vouchers.domain.access import Principal, PrincipalKind, Role
from vouchers.domain.codes import CodeFormat
from vouchers.domain.voucher_types import BonusRule, VoucherKind
from vouchers.services import customers

API = "/api/v1"
Keys = dict[str, dict[str, str]]
COUNTED = (
    schema.redemptions,
    schema.journal_entries,
    schema.customers,
    schema.settings,
    schema.wallets,
    schema.idempotency_keys,
)


def counts(app: App) -> dict[str, int]:
    """Rows per table that a refused call must leave alone."""
    with app.engine.connect() as connection:
        return {
            table.name: connection.execute(
                sa.select(sa.func.count()).select_from(table)
            ).scalar_one()
            for table in COUNTED
        }


def crm(app: App, count: int = 1) -> list[str]:
    """CRM "All Services": 30.00 EUR with 5.00 EUR extra value."""
    return issue(app, "CRM", count, name="All Services", value_minor=3000, extra_value_minor=500)


def redeem(
    client: TestClient, headers: dict[str, str], code: str, customer_ref: str = "C1", **body: Any
) -> Any:
    return client.post(
        f"{API}/redemptions", json={"code": code, "customer": customer_ref, **body}, headers=headers
    )


def assert_problem(response: Any, status: int, problem_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"/problems/{problem_type}", body
    assert body["status"] == status
    return body


# -- redemption ------------------------------------------------------------------------------


def test_a_redemption_over_http_credits_exact_amounts(
    app: App, client: TestClient, keys: Keys
) -> None:
    # Given CRM "All Services" (30 + 5 extra) and a multiplier bonus voucher (x2 from 50)
    (code,) = crm(app)
    (bonus,) = issue(
        app,
        "X2",
        1,
        name="Double top-up",
        kind=VoucherKind.TOPUP_BONUS,
        value_minor=None,
        bonus=BonusRule(minimum_activation_minor=5000, multiplier=Decimal(2)),
    )

    # When the host platform redeems the CRM code for C1
    response = redeem(client, keys["integration"], code, payment_reference="PAY-1")

    # Then 30.00 goes to paid and 5.00 to bonus, as minor units and formatted strings
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["paid_minor"], body["bonus_minor"], body["payment_minor"]) == (3000, 500, 0)
    assert (body["paid"], body["bonus"], body["value"]) == ("30.00 EUR", "5.00 EUR", "30.00 EUR")
    assert body["balance"] == {
        "currency": "EUR",
        "paid": "30.00 EUR",
        "paid_minor": 3000,
        "bonus": "5.00 EUR",
        "bonus_minor": 500,
        "total": "35.00 EUR",
        "total_minor": 3500,
    }
    assert (body["channel"], body["replayed"], body["dry_run"]) == ("api", False, False)
    assert body["events"] == ["voucher.redeemed"]
    assert response.headers["location"].endswith(f"/redemptions/{body['redemption_id']}")

    # And a top-up of 100.00 with the bonus voucher credits 100 paid and 100 bonus
    topped = redeem(client, keys["integration"], bonus, amount="100.00", channel="web_phone")
    assert topped.status_code == 201, topped.text
    assert (topped.json()["paid_minor"], topped.json()["bonus_minor"]) == (10000, 10000)
    assert topped.json()["balance"]["total"] == "235.00 EUR"

    # And support reads the redemption with who, how and from where
    shown = client.get(f"{API}/redemptions/{body['redemption_id']}", headers=keys["support"])
    assert shown.status_code == 200
    assert shown.json()["customer"] == "C1"
    assert shown.json()["status"] == "completed"
    assert shown.json()["caller"] == "key:integration"
    assert shown.json()["redeemed_by"] == "key:integration"
    assert shown.json()["client_address"] == "testclient"
    assert shown.json()["payment_reference"] == "PAY-1"

    # And the wallet and the customer's redemptions say the same
    wallets = client.get(f"{API}/customers/C1/wallets", headers=keys["integration"]).json()
    assert wallets["wallets"][0]["paid_minor"] == 13000
    assert wallets["wallets"][0]["bonus_minor"] == 10500
    listed = client.get(f"{API}/customers/C1/redemptions", headers=keys["finance"]).json()
    assert [r["voucher_number"] for r in listed["items"]] == [
        topped.json()["voucher_number"],
        body["voucher_number"],
    ]
    assert client.get(f"{API}/ledger/verify", headers=keys["auditor"]).json()["ok"] is True


def test_validation_gives_the_amounts_and_moves_nothing(
    app: App, client: TestClient, keys: Keys
) -> None:
    (code,) = crm(app)
    before = counts(app)

    response = client.post(
        f"{API}/redemptions/validate",
        json={"code": code, "customer": "C1"},
        headers={**keys["integration"], "Idempotency-Key": "v-1"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["dry_run"], body["redemption_id"], body["balance"]) == (True, None, None)
    assert (body["paid"], body["bonus"]) == ("30.00 EUR", "5.00 EUR")
    assert counts(app) == before
    assert redeem(client, keys["integration"], code).status_code == 201


def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_request(
    app: App, client: TestClient, keys: Keys
) -> None:
    first_code, second_code = crm(app, 2)
    keyed = {**keys["integration"], "Idempotency-Key": "order-77"}

    first = redeem(client, keyed, first_code)
    again = redeem(client, keyed, first_code)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json()["redemption_id"] == first.json()["redemption_id"]
    assert again.json()["replayed"] is True
    before = counts(app)

    # The same key for another code is refused, and nothing moves
    reused = redeem(client, keyed, second_code)
    assert_problem(reused, 422, "idempotency-key-reused")
    assert counts(app) == before

    # Keys belong to their caller: another key's "order-77" is its own
    other = redeem(client, {**keys["admin"], "Idempotency-Key": "order-77"}, second_code)
    assert other.status_code == 201


def test_ten_wrong_codes_lock_the_customer_out_with_429_and_retry_after(
    app: App, client: TestClient, keys: Keys
) -> None:
    (code,) = crm(app)
    guesses = CodeFormat().generate(10)

    for guess in guesses:
        assert_problem(redeem(client, keys["integration"], guess), 422, "voucher-unknown")

    locked = redeem(client, keys["integration"], code)
    body = assert_problem(locked, 429, "too-many-attempts")
    assert int(locked.headers["retry-after"]) == body["retry_after"] > 0
    validating = client.post(
        f"{API}/redemptions/validate", json={"code": code, "customer": "C1"}, headers=keys["admin"]
    )
    assert_problem(validating, 429, "too-many-attempts")
    assert counts(app)["redemptions"] == 0


def test_a_customer_scoped_key_redeems_and_reads_only_its_own_account(
    app: App, client: TestClient, keys: Keys
) -> None:
    mine, theirs = crm(app, 2)
    customer(app, "C2")
    scoped = keys["customer:C1"]
    other = redeem(client, keys["integration"], theirs, "C2")
    assert other.status_code == 201
    before = counts(app)

    # Redeeming for another customer (existing or not) is refused the same way
    for ref in ("C2", "NOBODY"):
        refused = redeem(client, scoped, mine, ref, create_customer=True)
        assert_problem(refused, 403, "forbidden")
    assert counts(app) == before

    # Another customer's wallet, customer record and redemption look like nothing at all
    for path in ("/customers/C2/wallets", "/customers/C2", "/customers/C2/redemptions"):
        assert_problem(client.get(API + path, headers=scoped), 404, "customer-not-found")
    assert_problem(client.get(f"{API}/customers/NOBODY", headers=scoped), 404, "customer-not-found")
    hidden = client.get(f"{API}/redemptions/{other.json()['redemption_id']}", headers=scoped)
    assert_problem(hidden, 404, "redemption-not-found")
    # Nor may it list customers, debit another wallet or change its own record
    assert client.get(f"{API}/customers", headers=scoped).status_code == 403
    debit = client.post(
        f"{API}/customers/C2/debits", json={"amount": "1.00", "currency": "EUR"}, headers=scoped
    )
    assert_problem(debit, 404, "customer-not-found")
    patch = client.patch(f"{API}/customers/C1", json={"kyc_verified": True}, headers=scoped)
    assert_problem(patch, 403, "forbidden")
    assert counts(app) == before

    # Its own account works
    own = redeem(client, scoped, mine, create_customer=True)
    assert own.status_code == 201
    shown = client.get(f"{API}/redemptions/{own.json()['redemption_id']}", headers=scoped)
    assert shown.json()["caller"] == "key:shop-c1"
    wallets = client.get(f"{API}/customers/C1/wallets", headers=scoped)
    assert wallets.json()["wallets"][0]["total"] == "35.00 EUR"


def test_finance_reverses_a_redemption_and_integration_may_not(
    app: App, client: TestClient, keys: Keys
) -> None:
    (code,) = crm(app)
    redemption_id = redeem(client, keys["integration"], code).json()["redemption_id"]
    path = f"{API}/redemptions/{redemption_id}/reversal"
    before = counts(app)

    for role in ("integration", "customer:C1", "support", "auditor", "operator"):
        refused = client.post(path, json={"reason": "complaint"}, headers=keys[role])
        assert_problem(refused, 403, "forbidden")
    assert counts(app) == before

    reversed_ = client.post(path, json={"reason": "customer complaint"}, headers=keys["finance"])
    assert reversed_.status_code == 200, reversed_.text
    assert reversed_.json()["status"] == "reversed"
    assert reversed_.json()["reversed_by"] == "key:finance"
    wallet = client.get(f"{API}/customers/C1/wallets", headers=keys["finance"]).json()
    assert wallet["wallets"][0]["total_minor"] == 0
    again = client.post(path, json={"reason": "twice"}, headers=keys["finance"])
    assert_problem(again, 409, "reversal-refused")
    missing = client.post(
        f"{API}/redemptions/999999/reversal", json={"reason": "x"}, headers=keys["finance"]
    )
    assert_problem(missing, 404, "redemption-not-found")
    # The voucher is active again: it can be redeemed once more
    assert redeem(client, keys["integration"], code).status_code == 201


def test_a_debit_spends_bonus_first_and_insufficient_funds_is_409(
    app: App, client: TestClient, keys: Keys
) -> None:
    (code,) = crm(app)
    assert redeem(client, keys["integration"], code).status_code == 201
    path = f"{API}/customers/C1/debits"
    keyed = {**keys["integration"], "Idempotency-Key": "spend-1"}

    spent = client.post(
        path, json={"amount": "7.50", "currency": "EUR", "reference": "call-1"}, headers=keyed
    )

    assert spent.status_code == 201, spent.text
    body = spent.json()
    assert (body["amount"], body["from_bonus"], body["from_paid"]) == (
        "7.50 EUR",
        "5.00 EUR",
        "2.50 EUR",
    )
    assert (body["from_bonus_minor"], body["from_paid_minor"]) == (500, 250)
    assert body["balance"]["total"] == "27.50 EUR"
    replay = client.post(
        path, json={"amount": "7.50", "currency": "EUR", "reference": "call-1"}, headers=keyed
    )
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["entry_id"] == body["entry_id"]
    before = counts(app)

    too_much = client.post(
        path, json={"amount": "27.51", "currency": "EUR"}, headers=keys["integration"]
    )
    assert_problem(too_much, 409, "insufficient-funds")
    assert counts(app) == before
    paid_first = client.post(
        path,
        json={"amount": "27.50", "currency": "EUR", "order": "paid_first"},
        headers=keys["admin"],
    )
    assert paid_first.status_code == 201
    assert paid_first.json()["balance"]["total_minor"] == 0
    assert client.get(f"{API}/ledger/verify", headers=keys["finance"]).json()["ok"] is True


class PortalSession:
    """A stand-in session store: every request without an API key is this customer."""

    def __init__(self, principal: Principal) -> None:
        self._principal = principal

    def principal(self, request: Any) -> Principal:
        return self._principal


def test_a_portal_customer_redeems_only_for_itself_and_hears_one_message_for_any_bad_code(
    app: App, client: TestClient, keys: Keys
) -> None:
    first, second = crm(app, 2)
    customer(app, "C2")
    c1 = customers.get_customer("C1", uow=app.uow())
    session = Principal("C1", PrincipalKind.CUSTOMER, frozenset({Role.CUSTOMER}), c1.id)
    client.app.state.sessions = PortalSession(session)  # type: ignore[attr-defined]

    done = client.post(f"{API}/redemptions", json={"code": first, "customer": "C1"})
    assert done.status_code == 201, done.text
    assert client.get(f"{API}/redemptions/{done.json()['redemption_id']}").json()["caller"] == (
        "customer:C1"
    )
    # A used code and an unknown one sound the same to a customer
    for code in (first, CodeFormat().generate(1)[0]):
        again = client.post(f"{API}/redemptions", json={"code": code, "customer": "C1"})
        assert_problem(again, 422, "voucher-unavailable")
    # Never into another account, never another wallet
    other = client.post(f"{API}/redemptions", json={"code": second, "customer": "C2"})
    assert_problem(other, 403, "forbidden")
    assert_problem(client.get(f"{API}/customers/C2/wallets"), 404, "customer-not-found")
    assert client.get(f"{API}/customers/C1/wallets").json()["wallets"][0]["paid"] == "30.00 EUR"
    assert_problem(
        client.post(f"{API}/customers/C1/debits", json={"amount": "1", "currency": "EUR"}),
        403,
        "forbidden",
    )


def test_x_forwarded_for_counts_only_behind_a_trusted_proxy(
    app: App, client: TestClient, keys: Keys
) -> None:
    codes = crm(app, 3)
    forwarded = {**keys["integration"], "X-Forwarded-For": "203.0.113.9, 10.0.0.1"}

    def address_of(code: str, headers: dict[str, str]) -> str:
        done = redeem(client, headers, code)
        shown = client.get(f"{API}/redemptions/{done.json()['redemption_id']}", headers=headers)
        address: str = shown.json()["client_address"]
        return address

    # Not trusted by default: the header is ignored
    assert address_of(codes[0], forwarded) == "testclient"
    # Behind trusted proxies: the last hop that is not one of them
    client.app.state.trusted_proxies = {"testclient", "10.0.0.1"}  # type: ignore[attr-defined]
    assert address_of(codes[1], forwarded) == "203.0.113.9"
    garbled = {**keys["integration"], "X-Forwarded-For": "not-an-address"}
    assert address_of(codes[2], garbled) == "testclient"


# -- bad input --------------------------------------------------------------------------------


R, D = "/redemptions", "/customers/C1/debits"
LONG_KEY = {"Idempotency-Key": "k" * 101}


def asked(**fields: Any) -> dict[str, Any]:
    """A redemption body with ``fields`` changed."""
    return {"code": "X", "customer": "C1", **fields}


# (method, path, body, extra headers, the field the problem must name)
BAD_REQUESTS: list[tuple[str, str, Any, dict[str, str], list[str]]] = [
    ("post", R, {"customer": "C1"}, {}, ["body", "code"]),
    ("post", R, asked(amount=12.5), {}, ["body", "amount"]),
    ("post", R, asked(amount="-1"), {}, ["body", "amount"]),
    ("post", R, asked(amount="1" * 13), {}, ["body", "amount"]),
    ("post", R, asked(amount="1e3"), {}, ["body", "amount"]),
    ("post", R, asked(customer="C\x001"), {}, ["body", "customer"]),
    ("post", R, asked(customer="x" * 65), {}, ["body", "customer"]),
    ("post", R, asked(channel="fax"), {}, ["body", "channel"]),
    ("post", R, asked(colour="red"), {}, ["body", "colour"]),
    ("post", R, asked(product="p\x00"), {}, ["body", "product"]),
    ("post", R, asked(create_customer="perhaps"), {}, ["body", "create_customer"]),
    ("post", R, asked(), LONG_KEY, ["header", "Idempotency-Key"]),
    ("post", f"{R}/validate", [1, 2], {}, ["body"]),
    ("get", f"{R}/99999999999999999999999", None, {}, ["path", "redemption_id"]),
    ("get", f"{R}/0", None, {}, ["path", "redemption_id"]),
    ("post", f"{R}/1/reversal", {"reason": ""}, {}, ["body", "reason"]),
    ("post", "/customers", {"external_ref": " spaced"}, {}, ["body", "external_ref"]),
    ("post", "/customers", {"external_ref": "C9", "kyc_verified": "maybe"}, {},
     ["body", "kyc_verified"]),
    ("patch", "/customers/C1", {"status": "asleep"}, {}, ["body", "status"]),
    ("get", "/customers?limit=0", None, {}, ["query", "limit"]),
    ("post", D, {"amount": "1.00"}, {}, ["body", "currency"]),
    ("post", D, {"amount": "9" * 13, "currency": "EUR"}, {}, ["body", "amount"]),
    ("post", D, {"amount": "1.00", "currency": "EUR", "order": "random"}, {},
     ["body", "order"]),
    ("post", D, {"amount": "1.00", "currency": "EUR"}, LONG_KEY,
     ["header", "Idempotency-Key"]),
    ("get", "/ledger/entries?before=-1", None, {}, ["query", "before"]),
    ("put", "/settings/default_expiry_days", {"value": 3}, {}, ["body", "value"]),
]  # fmt: skip

# (method, path, body, status, problem type): well-formed requests with values refused
BAD_VALUES: list[tuple[str, str, Any, int, str]] = [
    ("post", R, asked(code="!!"), 422, "malformed-code"),
    ("patch", "/customers/C1", {}, 422, "validation"),
    ("patch", "/customers/C1", {"name": None}, 422, "validation"),
    ("patch", "/customers/C1", {"email": "not-an-address"}, 422, "validation"),
    ("patch", "/customers/NOBODY", {"name": "x"}, 404, "customer-not-found"),
    ("post", D, {"amount": "0", "currency": "EUR"}, 422, "validation"),
    ("post", D, {"amount": "1.001", "currency": "EUR"}, 422, "amount"),
    ("post", D, {"amount": "1.00", "currency": "XXQ"}, 422, "currency"),
    ("post", D, {"amount": "1.00", "currency": "EUR"}, 409, "insufficient-funds"),
    ("post", "/customers/NOBODY/debits", {"amount": "1", "currency": "EUR"}, 404,
     "customer-not-found"),
    ("put", "/settings/no_such_setting", {"value": "3"}, 422, "validation"),
    ("put", "/settings/default_expiry_days", {"value": "soon"}, 422, "validation"),
    ("put", "/settings/minimum_amount", {"value": "10.00"}, 422, "amount"),
    ("get", "/customers/%00", None, 422, "validation"),
    ("get", "/customers/C1%00/wallets", None, 422, "validation"),
    ("get", "/ledger/entries?customer=%00", None, 404, "customer-not-found"),
    ("get", f"{R}/42", None, 404, "redemption-not-found"),
    ("post", "/customers", {"external_ref": "C1"}, 409, "duplicate"),
]  # fmt: skip


def test_a_bad_request_is_a_422_problem_naming_the_field(client: TestClient, keys: Keys) -> None:
    for method, path, body, headers, field in BAD_REQUESTS:
        response = client.request(
            method.upper(), API + path, json=body, headers={**keys["admin"], **headers}
        )
        problem = assert_problem(response, 422, "validation")
        named = [error["loc"][: len(field)] for error in problem["errors"]]
        assert field in named, (method, path, problem)


def test_bad_values_are_problems_never_a_500(client: TestClient, keys: Keys) -> None:
    for method, path, body, status, problem_type in BAD_VALUES:
        response = client.request(method.upper(), API + path, json=body, headers=keys["admin"])
        assert response.status_code == status, (method, path, body, response.text)
        assert_problem(response, status, problem_type)


def test_a_wrong_amount_or_currency_for_a_real_code_is_refused_and_moves_nothing(
    app: App, client: TestClient, keys: Keys
) -> None:
    (code,) = crm(app)
    before = counts(app)
    cases = [
        ({"amount": "1.234"}, "amount"),
        ({"amount": "1.00", "currency": "XXQ"}, "currency"),
        ({"currency": "USD"}, "currency-mismatch"),
        ({"amount": "29.99"}, "validation"),  # a stored-value voucher credits its own value
    ]
    for fields, problem_type in cases:
        assert_problem(redeem(client, keys["integration"], code, **fields), 422, problem_type)
    assert counts(app) == before


def test_the_largest_top_up_accepted_is_credited_exactly(
    app: App, client: TestClient, keys: Keys
) -> None:
    (code,) = issue(
        app,
        "X3",
        1,
        name="Triple top-up",
        kind=VoucherKind.TOPUP_BONUS,
        value_minor=None,
        bonus=BonusRule(multiplier=Decimal(3)),
    )

    response = redeem(client, keys["integration"], code, amount="999999999999.99")

    assert response.status_code == 201, response.text
    assert response.json()["paid_minor"] == 99_999_999_999_999
    assert response.json()["bonus"] == "1999999999999.98 EUR"
    assert client.get(f"{API}/ledger/verify", headers=keys["admin"]).json()["ok"] is True


# -- customers, ledger, settings -------------------------------------------------------------


def test_customers_are_created_listed_read_and_updated(client: TestClient, keys: Keys) -> None:
    created = client.post(
        f"{API}/customers",
        json={"external_ref": "ACC-9", "name": "Ada", "email": "ada@example.org"},
        headers=keys["integration"],
    )
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == "key:integration"
    assert created.headers["location"].endswith("/customers/ACC-9")

    page = client.get(f"{API}/customers?limit=1", headers=keys["operator"]).json()
    assert [c["external_ref"] for c in page["items"]] == ["ACC-9"]
    rest = client.get(f"{API}/customers?after={page['next_after']}", headers=keys["support"]).json()
    assert [c["external_ref"] for c in rest["items"]] == ["C1"]
    assert rest["next_after"] is None

    updated = client.patch(
        f"{API}/customers/ACC-9",
        json={"kyc_verified": True, "status": "blocked", "phone": "+44 20 7946 0000"},
        headers=keys["admin"],
    )
    assert updated.status_code == 200, updated.text
    shown = client.get(f"{API}/customers/ACC-9", headers=keys["support"]).json()
    assert (shown["kyc_verified"], shown["status"], shown["name"]) == (True, "blocked", "Ada")
    cleared = client.patch(f"{API}/customers/ACC-9", json={"email": None}, headers=keys["admin"])
    assert cleared.json()["email"] is None


def test_a_blocked_customer_cannot_redeem(app: App, client: TestClient, keys: Keys) -> None:
    (code,) = crm(app)
    client.patch(f"{API}/customers/C1", json={"status": "blocked"}, headers=keys["admin"])
    assert_problem(redeem(client, keys["integration"], code), 422, "customer-blocked")
    unknown = redeem(client, keys["integration"], code, "NEWBIE")
    assert_problem(unknown, 404, "customer-not-found")
    created = redeem(client, keys["integration"], code, "NEWBIE", create_customer=True)
    assert created.status_code == 201
    assert created.json()["customer"] == "NEWBIE"


def test_the_ledger_pages_newest_first_and_settings_change_with_history(
    app: App, client: TestClient, keys: Keys
) -> None:
    for code in crm(app, 3):
        assert redeem(client, keys["integration"], code).status_code == 201

    first = client.get(f"{API}/ledger/entries?limit=2", headers=keys["finance"]).json()
    ids = [e["id"] for e in first["items"]]
    assert ids == sorted(ids, reverse=True)
    assert first["next_before"] == ids[-1]
    rest = client.get(
        f"{API}/ledger/entries?limit=2&before={first['next_before']}", headers=keys["auditor"]
    ).json()
    assert len(rest["items"]) == 1
    assert rest["next_before"] is None
    postings = first["items"][0]["postings"]
    assert sum(p["amount_minor"] for p in postings) == 0
    assert {p["amount"] for p in postings} >= {"30.00 EUR", "-30.00 EUR"}
    only_c1 = client.get(f"{API}/ledger/entries?customer=C1", headers=keys["admin"]).json()
    assert len(only_c1["items"]) == 3
    nobody = client.get(f"{API}/ledger/entries?customer=NOBODY", headers=keys["admin"])
    assert_problem(nobody, 404, "customer-not-found")
    verified = client.get(f"{API}/ledger/verify", headers=keys["admin"]).json()
    assert verified["ok"] is True
    assert {
        "account": "wallet_paid",
        "currency": "EUR",
        "balance": "90.00 EUR",
        "balance_minor": 9000,
    } in verified["totals"]

    assert (
        client.get(f"{API}/settings", headers=keys["auditor"]).json()["reversal_window_days"]
        == "30"
    )
    changed = client.put(
        f"{API}/settings/minimum_amount.EUR", json={"value": "10.00"}, headers=keys["admin"]
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["key"], changed.json()["old"], changed.json()["new"]) == (
        "minimum_amount.EUR",
        None,
        "10.00",
    )
    assert changed.json()["by"] == "key:admin"
    restored = client.put(
        f"{API}/settings/minimum_amount.EUR", json={"value": None}, headers=keys["admin"]
    )
    assert restored.json()["new"] is None
    history = client.get(f"{API}/settings/changes", headers=keys["auditor"]).json()["items"]
    assert [h["new"] for h in history[:2]] == [None, "10.00"]
