"""The catalogue and life-cycle API end to end: types, definitions, lots and their
actions, vouchers (filters, keyset pages, history, reveal), bulk processes as runs, and
exports approved by a second finance user — on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

API = "/api/v1"
Keys = dict[str, dict[str, str]]


def make_type(client: TestClient, keys: Keys, code: str = "PREM", **extra: Any) -> dict[str, Any]:
    body = {"name": "Premium", "alternative_code": code, "currency": "USD", "value": "50.00"}
    response = client.post(f"{API}/voucher-types", json=body | extra, headers=keys["operator"])
    assert response.status_code == 201, response.text
    return dict(response.json())


def make_lot(client: TestClient, keys: Keys, count: int = 5, code: str = "L1") -> dict[str, Any]:
    """A generated lot of type PREM (created if missing), by the operator."""
    if client.get(f"{API}/voucher-types/PREM", headers=keys["admin"]).status_code == 404:
        make_type(client, keys)
    created = client.post(
        f"{API}/lots",
        json={"type": "PREM", "count": count, "alternative_code": code},
        headers=keys["operator"],
    )
    assert created.status_code == 201, created.text
    generated = client.post(f"{API}/lots/{code}/generate", headers=keys["operator"])
    assert generated.status_code == 200, generated.text
    assert generated.json()["status"] == "completed"
    return dict(client.get(f"{API}/lots/{code}", headers=keys["operator"]).json())


def numbers(client: TestClient, keys: Keys, query: str = "") -> list[int]:
    response = client.get(f"{API}/vouchers?limit=1000{query}", headers=keys["admin"])
    assert response.status_code == 200, response.text
    return [item["number"] for item in response.json()["items"]]


def test_a_voucher_type_is_created_shown_listed_and_updated(client: TestClient, keys: Keys) -> None:
    created = make_type(client, keys, extra_value="5.00", products=["sms"])
    assert created["value"] == "50.00 USD"
    assert created["extra_value"] == "5.00 USD"
    assert created["products"] == ["SMS"]
    assert created["code_format"]["entropy_bits"] >= 80
    assert created["created_by"] == "key:operator"

    shown = client.get(f"{API}/voucher-types/prem", headers=keys["auditor"])
    assert shown.json()["id"] == created["id"]
    listed = client.get(f"{API}/voucher-types", headers=keys["finance"]).json()
    assert [t["alternative_code"] for t in listed] == ["PREM"]

    updated = client.patch(
        f"{API}/voucher-types/{created['id']}",
        json={"name": "Premium+", "rules": {"kyc_required": True}},
        headers=keys["admin"],
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["name"] == "Premium+"
    assert updated.json()["rules"]["kyc_required"] is True


def test_a_duplicate_type_is_a_conflict_problem(client: TestClient, keys: Keys) -> None:
    make_type(client, keys)
    again = client.post(
        f"{API}/voucher-types",
        json={"name": "Other", "alternative_code": "prem", "currency": "USD", "value": "1"},
        headers=keys["operator"],
    )
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"] == "/problems/duplicate"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"name": "X"}, "validation"),  # fields missing
        ({"name": "X", "alternative_code": "X", "value": 50}, "validation"),  # not text
        ({"name": "X", "alternative_code": "X", "colour": "red"}, "validation"),  # unknown
        ({"name": "X" * 201, "alternative_code": "X", "value": "1"}, "validation"),  # too long
        ({"name": "X", "alternative_code": "X", "value": "fifty"}, "amount"),
        ({"name": "X", "alternative_code": "X", "value": "1.234", "currency": "USD"}, "amount"),
        ({"name": "X", "alternative_code": "X", "value": "1", "currency": "XXQ"}, "currency"),
        ({"name": "X", "alternative_code": "X", "value": "5.00 EUR", "currency": "USD"}, "amount"),
        (
            {"name": "X", "alternative_code": "X", "value": "1", "code_format": {"length": 4}},
            "weak-code-format",
        ),
    ],
)
def test_bad_input_is_a_422_problem_never_a_500(
    client: TestClient, keys: Keys, body: dict[str, Any], problem: str
) -> None:
    response = client.post(f"{API}/voucher-types", json=body, headers=keys["operator"])
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"/problems/{problem}"
    if problem == "validation":
        assert response.json()["errors"], "pydantic's field errors are listed"


def test_malformed_paths_and_queries_are_422_problems(client: TestClient, keys: Keys) -> None:
    for url in (
        f"{API}/vouchers/abc",
        f"{API}/vouchers/0",
        f"{API}/vouchers?limit=0",
        f"{API}/vouchers?limit=100000",
        f"{API}/vouchers?state=nonsense",
        f"{API}/vouchers?after=-1",
        f"{API}/runs/99999999999999999999999",
        f"{API}/lots/{'X' * 40}",
    ):
        response = client.get(url, headers=keys["admin"])
        assert response.status_code == 422, url
        assert response.json()["type"] == "/problems/validation"


def test_unknown_things_are_404_problems_with_their_own_type(
    client: TestClient, keys: Keys
) -> None:
    for url, problem in (
        (f"{API}/voucher-types/NOPE", "voucher-type-not-found"),
        (f"{API}/lots/NOPE", "lot-not-found"),
        (f"{API}/vouchers/12345", "voucher-not-found"),
        (f"{API}/vouchers/12345/history", "voucher-not-found"),
        (f"{API}/definitions/NOPE", "definition-not-found"),
        (f"{API}/runs/12345", "run-not-found"),
        (f"{API}/vouchers?customer=NOPE", "customer-not-found"),
    ):
        response = client.get(url, headers=keys["admin"])
        assert response.status_code == 404, url
        assert response.json()["type"] == f"/problems/{problem}"


def test_business_definitions_are_created_activated_and_deactivated(
    client: TestClient, keys: Keys
) -> None:
    created = client.post(
        f"{API}/definitions",
        json={"name": "Strict", "alternative_code": "strict", "cancellation": ["draft"]},
        headers=keys["admin"],
    )
    assert created.status_code == 201, created.text
    assert created.json() == {
        "id": created.json()["id"],
        "alternative_code": "STRICT",
        "name": "Strict",
        "active": False,
        "restrictions": {"cancel": ["draft"]},
    }
    widened = client.post(
        f"{API}/definitions",
        json={"name": "Wide", "alternative_code": "WIDE", "activation": ["used"]},
        headers=keys["admin"],
    )
    assert widened.status_code == 422
    activated = client.post(f"{API}/definitions/STRICT/activate", headers=keys["admin"])
    assert activated.json()["active"] is True
    assert client.post(f"{API}/definitions/deactivate", headers=keys["admin"]).status_code == 204
    listed = client.get(f"{API}/definitions", headers=keys["operator"]).json()
    assert [d["active"] for d in listed] == [False]


def test_a_lot_goes_through_its_life_cycle(client: TestClient, keys: Keys) -> None:
    lot = make_lot(client, keys, count=4)
    assert lot["state"] == "posted"
    assert lot["generated_count"] == 4
    assert set(numbers(client, keys, "&state=draft")) == set(numbers(client, keys))

    # The operator generated the lot: four eyes keep them from accepting it, and the role
    # table from even trying.
    assert client.post(f"{API}/lots/L1/accept", headers=keys["operator"]).status_code == 403
    accepted = client.post(f"{API}/lots/L1/accept", headers=keys["finance"])
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["count"] == 4
    assert accepted.json()["requested_by"] == "key:finance"

    activated = client.post(f"{API}/activations", json={"lot": "L1"}, headers=keys["finance"])
    assert activated.status_code == 200, activated.text
    assert len(numbers(client, keys, "&state=activated")) == 4

    again = client.post(f"{API}/activations", json={"lot": "L1"}, headers=keys["finance"])
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/invalid-transition"

    amended = client.post(f"{API}/lots/L1/amend", json={"count": 2}, headers=keys["operator"])
    assert amended.status_code == 200, amended.text
    assert client.get(f"{API}/lots/L1", headers=keys["auditor"]).json()["count"] == 6
    assert len(numbers(client, keys, "&state=draft")) == 2

    rejected = client.post(f"{API}/lots/L1/reject", headers=keys["finance"])
    assert rejected.json()["count"] == 2
    modified = client.post(
        f"{API}/lots/L1/modify",
        json={"expires_at": "2030-01-01T00:00:00+00:00"},
        headers=keys["operator"],
    )
    assert modified.status_code == 200, modified.text
    assert modified.json()["count"] == 4  # the activated ones; rejected are not modified

    purged = client.post(
        f"{API}/purges", json={"lot": "L1", "states": ["rejected"]}, headers=keys["finance"]
    )
    assert purged.status_code == 200, purged.text
    assert purged.json()["count"] == 2
    assert len(numbers(client, keys, "&state=purged")) == 2


def test_one_voucher_is_accepted_cancelled_modified_and_rejected(
    client: TestClient, keys: Keys
) -> None:
    make_lot(client, keys, count=3)
    first, second, third = numbers(client, keys)
    accepted = client.post(f"{API}/vouchers/{first}/accept", headers=keys["finance"])
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["process"] == "accept"
    assert (
        client.post(f"{API}/vouchers/{second}/reject", headers=keys["finance"]).json()["count"] == 1
    )
    modified = client.post(
        f"{API}/vouchers/{third}/modify",
        json={"expires_at": "2031-01-01T00:00:00Z"},
        headers=keys["operator"],
    )
    assert modified.status_code == 200, modified.text
    shown = client.get(f"{API}/vouchers/{third}", headers=keys["support"]).json()
    assert shown["expires_at"].startswith("2031-01-01")
    cancelled = client.post(f"{API}/vouchers/{third}/cancel", headers=keys["finance"])
    assert cancelled.status_code == 200
    states = {
        item["number"]: item["state"]
        for item in client.get(f"{API}/vouchers", headers=keys["support"]).json()["items"]
    }
    assert states == {first: "accepted", second: "rejected", third: "cancelled"}

    value_change = client.post(
        f"{API}/vouchers/{first}/modify", json={"value": "1.00"}, headers=keys["operator"]
    )
    assert value_change.status_code == 422  # modify never changes a value: no such field
    naive = client.post(
        f"{API}/vouchers/{first}/modify",
        json={"expires_at": "2031-01-01T00:00:00"},
        headers=keys["operator"],
    )
    assert naive.status_code == 422


def test_vouchers_are_listed_in_keyset_pages_with_filters(client: TestClient, keys: Keys) -> None:
    make_lot(client, keys, count=7)
    every = numbers(client, keys)
    assert len(every) == 7

    seen: list[int] = []
    after = 0
    while True:
        page = client.get(f"{API}/vouchers?limit=3&after={after}", headers=keys["support"])
        body = page.json()
        seen += [item["number"] for item in body["items"]]
        if body["next"] is None:
            break
        after = body["next"]
    assert seen == every
    assert len(client.get(f"{API}/vouchers?limit=7", headers=keys["admin"]).json()["items"]) == 7
    assert client.get(f"{API}/vouchers?limit=7", headers=keys["admin"]).json()["next"] is None

    low, high = every[2], every[4]
    assert numbers(client, keys, f"&number_from={low}&number_to={high}") == every[2:5]
    assert numbers(client, keys, "&lot=L1&type=PREM") == every
    assert numbers(client, keys, "&state=activated") == []
    assert numbers(client, keys, "&state=activated&state=draft") == every

    item = client.get(f"{API}/vouchers/{every[0]}", headers=keys["support"]).json()
    assert item["code"].startswith("••••-••••-••••-")  # masked: the last four only
    tail = item["code"][-4:]
    assert every[0] in numbers(client, keys, f"&text={tail.lower()}")

    make_type(client, keys, code="OTHER")
    assert numbers(client, keys, "&type=OTHER") == []


def test_a_code_is_revealed_only_to_finance_with_a_reason_and_recorded(
    client: TestClient, keys: Keys
) -> None:
    make_lot(client, keys, count=1)
    (number,) = numbers(client, keys)
    masked = client.get(f"{API}/vouchers/{number}", headers=keys["support"]).json()["code"]

    for role in ("support", "operator", "auditor", "integration", "customer:C1"):
        refused = client.post(
            f"{API}/vouchers/{number}/reveal", json={"reason": "look"}, headers=keys[role]
        )
        assert refused.status_code == 403, role
    no_reason = client.post(f"{API}/vouchers/{number}/reveal", json={}, headers=keys["finance"])
    assert no_reason.status_code == 422
    blank = client.post(
        f"{API}/vouchers/{number}/reveal", json={"reason": "  "}, headers=keys["finance"]
    )
    assert blank.status_code == 422

    revealed = client.post(
        f"{API}/vouchers/{number}/reveal",
        json={"reason": "customer lost the card"},
        headers=keys["finance"],
    )
    assert revealed.status_code == 200, revealed.text
    assert revealed.headers["cache-control"] == "no-store"
    code = revealed.json()["code"]
    assert code.replace("-", "")[-4:] == masked.replace("-", "")[-4:]

    history = client.get(f"{API}/vouchers/{number}/history", headers=keys["support"]).json()
    assert [entry["process"] for entry in history] == ["generate", "reveal"]
    assert history[-1]["by"] == "key:finance"
    assert history[-1]["note"] == "customer lost the card"
    assert code not in str(history)


def test_bulk_processes_run_later_when_scheduled(client: TestClient, keys: Keys) -> None:
    make_lot(client, keys, count=2)
    client.post(f"{API}/lots/L1/accept", headers=keys["finance"])
    scheduled = client.post(
        f"{API}/activations",
        json={"lot": "L1", "scheduled_for": "2030-01-01T00:00:00Z"},
        headers=keys["finance"],
    )
    assert scheduled.status_code == 202, scheduled.text
    run = scheduled.json()
    assert run["status"] == "scheduled"
    assert numbers(client, keys, "&state=activated") == []
    listed = client.get(f"{API}/runs", headers=keys["auditor"]).json()
    assert listed[0]["id"] == run["id"]
    cancelled = client.post(f"{API}/runs/{run['id']}/cancel", headers=keys["operator"])
    assert cancelled.json()["status"] == "cancelled"
    shown = client.get(f"{API}/runs/{run['id']}", headers=keys["finance"]).json()
    assert shown["status"] == "cancelled"

    bad = client.post(f"{API}/activations", json={}, headers=keys["finance"])
    assert bad.status_code == 422
    empty = client.post(
        f"{API}/activations", json={"number_from": 9, "number_to": 3}, headers=keys["finance"]
    )
    assert empty.status_code == 422
    assert (
        client.post(f"{API}/cancellations", json={"type": "PREM"}, headers=keys["finance"]).json()[
            "count"
        ]
        == 2
    )
    expired = client.post(f"{API}/expirations", json={}, headers=keys["finance"])
    assert expired.status_code == 200
    assert expired.json()["count"] == 0


def test_an_export_waits_for_a_second_finance_user_and_its_file_is_finance_only(
    client: TestClient, keys: Keys
) -> None:
    make_lot(client, keys, count=2)
    client.post(f"{API}/lots/L1/accept", headers=keys["finance"])
    client.post(f"{API}/activations", json={"lot": "L1"}, headers=keys["finance"])

    requested = client.post(
        f"{API}/exports", json={"lot": "L1", "format": "csv"}, headers=keys["finance"]
    )
    assert requested.status_code == 202, requested.text
    run_id = requested.json()["id"]
    assert requested.json()["status"] == "awaiting"

    own = client.post(f"{API}/runs/{run_id}/approve", headers=keys["finance"])
    assert own.status_code == 403
    assert own.json()["type"] == "/problems/four-eyes"
    assert client.get(f"{API}/runs/{run_id}/file", headers=keys["finance"]).status_code == 409

    approved = client.post(f"{API}/runs/{run_id}/approve", headers=keys["second-finance"])
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "completed"
    assert approved.json()["file_available"] is True

    for role in ("support", "auditor", "operator", "integration", "customer:C1"):
        assert client.get(f"{API}/runs/{run_id}/file", headers=keys[role]).status_code == 403
    downloaded = client.get(f"{API}/runs/{run_id}/file", headers=keys["finance"])
    assert downloaded.status_code == 200
    (number,) = numbers(client, keys)[:1]
    code = client.post(
        f"{API}/vouchers/{number}/reveal", json={"reason": "check export"}, headers=keys["finance"]
    ).json()["code"]
    assert code.replace("-", "") in downloaded.text.replace("-", "")
    # every exported voucher's history names the run and who asked for it
    for exported in numbers(client, keys):
        history = client.get(f"{API}/vouchers/{exported}/history", headers=keys["support"])
        assert history.status_code == 200
        entries = [entry for entry in history.json() if entry["process"] == "export"]
        assert [(e["field"], e["by"], e["run_id"], e["note"]) for e in entries] == [
            ("secret", "key:finance", run_id, f"exported in run {run_id} by key:finance")
        ]

    unknown_format = client.post(
        f"{API}/exports", json={"lot": "L1", "format": "doc"}, headers=keys["finance"]
    )
    assert unknown_format.status_code == 422


def test_the_openapi_document_lists_the_catalogue_routes(client: TestClient) -> None:
    paths = client.get(f"{API}/openapi.json").json()["paths"]
    for path in (
        "/api/v1/voucher-types",
        "/api/v1/definitions",
        "/api/v1/lots/{ref}/generate",
        "/api/v1/vouchers",
        "/api/v1/vouchers/{number}/reveal",
        "/api/v1/activations",
        "/api/v1/exports",
        "/api/v1/runs/{run_id}/file",
    ):
        assert path in paths


def test_a_reference_of_non_ascii_digits_is_a_name_not_a_crash(
    client: TestClient, keys: dict[str, dict[str, str]]
) -> None:
    response = client.get("/api/v1/voucher-types/²", headers=keys["admin"])
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
