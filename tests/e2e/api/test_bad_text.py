"""Text PostgreSQL cannot store, and numbers no id can reach, are refused as bad input on
both databases: a 422 or 404 problem document, never a 500 or 503, and nothing changes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from vouchers.bootstrap import App
from vouchers.errors import ValidationError
from vouchers.services import customers

API = "/api/v1"
Keys = dict[str, dict[str, str]]
TOO_BIG = str(2**70)

NUL_REQUESTS = [
    ("get", "/lots/L%00"),
    ("get", "/voucher-types/T%00"),
    ("get", "/definitions/D%00"),
    ("get", "/vouchers?lot=L%00"),
    ("get", "/vouchers?type=%00"),
    ("get", "/vouchers?customer=C%00"),
    ("post", "/vouchers/1/reveal"),
]


@pytest.mark.parametrize(("method", "path"), NUL_REQUESTS)
def test_a_nul_character_is_a_422_validation_problem(
    client: TestClient, keys: Keys, method: str, path: str
) -> None:
    body = {"reason": "audit\x00"} if method == "post" else None
    response = client.request(method.upper(), API + path, json=body, headers=keys["admin"])
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/validation"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", f"/lots/{TOO_BIG}"),
        ("post", f"/lots/{TOO_BIG}/generate"),
        ("get", f"/voucher-types/{TOO_BIG}"),
        ("get", f"/definitions/{TOO_BIG}"),
    ],
)
def test_a_reference_of_digits_beyond_any_id_is_simply_not_found(
    client: TestClient, keys: Keys, method: str, path: str
) -> None:
    response = client.request(method.upper(), API + path, headers=keys["admin"])
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == "application/problem+json"


# SQLite stores NUL characters; only PostgreSQL refuses them, so this runs on PostgreSQL.
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_nul_that_reaches_storage_is_still_bad_input(app: App) -> None:
    with pytest.raises(ValidationError, match="NUL"):
        customers.create_customer(
            "C9", uow=app.uow(), clock=app.clock, actor="t", name="Ann\x00Smith"
        )
    assert customers.list_customers(uow=app.uow()) == []
