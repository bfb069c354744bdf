"""A key confined to a customer acts on that customer's account and on nothing else,
whatever roles it was given: no code reveals, no bulk processes, no catalogue."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from support.factories import activate_lot, generate_lot_with, make_type
from vouchers.bootstrap import App
from vouchers.domain.access import ApiKey, Role, secret_digest

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SECRET = "ab" * 32


def confined_finance_key(app: App) -> dict[str, str]:
    """A finance key confined to customer C1, stored as an older version could store it
    (creating one is refused now)."""
    with app.uow() as uow:
        customer_id = uow.customers.get("C1").require_id()
        uow.api_keys.add(
            ApiKey("c1-finance", "0123456789abcdef", frozenset({Role.FINANCE}),
                   secret_digest(SECRET), customer_id=customer_id, created_at=app.clock())
        )  # fmt: skip
        uow.commit()
    return {"Authorization": f"Bearer vk_0123456789abcdef_{SECRET}"}


def test_a_confined_key_with_a_staff_role_reveals_no_code_and_runs_nothing(
    app: App, client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    # Given an activated lot and a finance key confined to customer C1
    make_type(app, "PREM")
    activate_lot(app, generate_lot_with(app, "PREM", 3))
    headers = confined_finance_key(app)
    # When it asks for what finance may do to everyone, then every request is refused
    for method, path, body in (
        ("POST", "/api/v1/vouchers/1/reveal", {"reason": "checking"}),
        ("GET", "/api/v1/vouchers/1/qr.svg?reason=checking", None),
        ("POST", "/api/v1/cancellations", {"lot": "PREM-000001"}),
        ("GET", "/api/v1/runs", None),
        ("GET", "/api/v1/ledger/entries", None),
    ):
        answer = client.request(method, path, json=body, headers=headers)
        assert answer.status_code == 403, (path, answer.text)
    assert client.get("/api/v1/vouchers/1", headers=headers).status_code == 404  # not C1's
    # and its own customer's account stays reachable
    assert client.get("/api/v1/customers/C1/wallets", headers=headers).status_code == 200
