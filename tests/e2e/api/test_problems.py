"""The API's error contract: problem documents with a stable type, and authentication."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_health_and_readiness_answer(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["current"] == ready.json()["head"]


def test_an_unknown_route_is_a_problem_document(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/not-found"


def test_a_malformed_api_key_is_refused_with_401(client: TestClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    refused = client.get("/api/v1/voucher-types", headers={"Authorization": "Bearer nope"})
    assert refused.status_code in (401, 404)  # 404 until the types routes exist
