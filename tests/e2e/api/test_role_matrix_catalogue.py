"""Role × endpoint matrix of the catalogue and life-cycle routes.

Every route of the types, definitions, lots, imports, vouchers and runs routers is found by
introspection with the one permission it declares (``require(Permission.X)``), then
called with every role's key: a role without the permission is refused with 403
``forbidden`` and the database is exactly as before; a role with it is never refused for
lack of permission (other refusals, such as four-eyes or a finished run, may follow).
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from vouchers.adapters.db import schema
from vouchers.bootstrap import App
from vouchers.domain.access import ROLE_PERMISSIONS, Permission, Role
from vouchers.domain.codes import CodeFormat
from vouchers.entrypoints.api import definitions, imports, lots, runs, types, vouchers
from vouchers.entrypoints.api.app import API_PREFIX

Keys = dict[str, dict[str, str]]
ROUTERS = (types, definitions, lots, imports, vouchers, runs)
# The role behind each key of the ``keys`` fixture.
KEY_ROLES = {
    "admin": Role.ADMIN,
    "operator": Role.OPERATOR,
    "finance": Role.FINANCE,
    "second-finance": Role.FINANCE,
    "support": Role.SUPPORT,
    "auditor": Role.AUDITOR,
    "integration": Role.INTEGRATION,
    "customer:C1": Role.INTEGRATION,  # an integration key confined to customer C1
}
_BY_DEPENDENCY = {f"require_{p.value.replace('.', '_')}": p for p in Permission}

# A request body valid enough to pass parsing, per (method, path).
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/voucher-types"): {
        "name": "Matrix",
        "alternative_code": "MATRIX",
        "currency": "USD",
        "value": "10.00",
    },
    ("PATCH", "/voucher-types/{ref}"): {"name": "Renamed"},
    ("POST", "/definitions"): {"name": "Matrix", "alternative_code": "MATRIX"},
    ("POST", "/lots"): {"type": "PREM", "count": 2},
    ("POST", "/lots/{ref}/amend"): {"count": 1},
    ("POST", "/lots/{ref}/modify"): {"expires_at": "2030-01-01T00:00:00Z"},
    ("POST", "/vouchers/{number}/reveal"): {"reason": "matrix"},
    ("POST", "/vouchers/{number}/modify"): {"expires_at": "2030-01-01T00:00:00Z"},
    ("POST", "/activations"): {"lot": "L1"},
    ("POST", "/cancellations"): {"lot": "L1"},
    ("POST", "/purges"): {"lot": "L1"},
    ("POST", "/expirations"): {},
    ("POST", "/exports"): {"lot": "L1", "format": "csv"},
}
# Query parameters a route needs, per (method, path).
QUERIES: dict[tuple[str, str], dict[str, str]] = {
    ("GET", "/vouchers/{number}/qr.png"): {"reason": "matrix"},
    ("GET", "/vouchers/{number}/qr.svg"): {"reason": "matrix"},
    ("POST", "/imports"): {"type": "PREM"},
}
# Raw bodies (media type, content) sent instead of JSON, per (method, path).
CONTENTS: dict[tuple[str, str], tuple[str, bytes]] = {
    ("POST", "/imports"): ("text/csv", ("code\n" + "\n".join(CodeFormat().generate(2))).encode()),
}


def catalogue_routes() -> list[tuple[str, str, Permission]]:
    """(method, path under the API prefix, permission) of every route of the routers."""
    found = []
    for module in ROUTERS:
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            permissions = {
                _BY_DEPENDENCY[dep.call.__name__]
                for dep in route.dependant.dependencies
                if dep.call is not None and dep.call.__name__ in _BY_DEPENDENCY
            }
            assert len(permissions) == 1, f"{route.path} declares {permissions}"
            for method in sorted(route.methods):
                found.append((method, route.path, permissions.pop()))
    return found


def snapshot(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the API keys (their use may be recorded)."""
    with app.engine.connect() as connection:
        return {
            name: sorted(tuple(map(repr, row)) for row in connection.execute(select(table)))
            for name, table in schema.metadata.tables.items()
            if name != "api_keys"
        }


def send(
    client: TestClient, method: str, path: str, url: str, headers: dict[str, str] | None = None
) -> Any:
    """The request of the matrix for a route: its query, and its JSON or raw body."""
    params = QUERIES.get((method, path))
    if (method, path) in CONTENTS:
        media_type, content = CONTENTS[(method, path)]
        headers = (headers or {}) | {"Content-Type": media_type}
        return client.request(method, url, params=params, content=content, headers=headers)
    body = BODIES.get((method, path))
    return client.request(method, url, params=params, json=body, headers=headers)


def test_every_route_declares_exactly_one_permission() -> None:
    routes = catalogue_routes()
    assert len(routes) >= 30
    expected = {
        ("GET", "/vouchers/{number}", Permission.VOUCHERS_READ),
        ("POST", "/vouchers/{number}/reveal", Permission.VOUCHERS_REVEAL),
        ("GET", "/vouchers/{number}/qr.png", Permission.VOUCHERS_REVEAL),
        ("GET", "/vouchers/{number}/qr.svg", Permission.VOUCHERS_REVEAL),
        ("POST", "/imports", Permission.IMPORTS_CREATE),
        ("GET", "/runs/{run_id}/file", Permission.EXPORTS_REQUEST),
        ("POST", "/runs/{run_id}/approve", Permission.EXPORTS_APPROVE),
        ("POST", "/definitions", Permission.DEFINITIONS_WRITE),
    }
    assert expected <= set(routes)


def test_every_role_is_refused_what_it_may_not_do_and_nothing_changes(
    app: App, client: TestClient, keys: Keys
) -> None:
    # Given a type, a generated lot, a definition, a scheduled run and an export run
    op, fin = keys["operator"], keys["finance"]
    assert client.post(f"{API_PREFIX}/voucher-types", json=BODIES[("POST", "/voucher-types")]
                       | {"alternative_code": "PREM"}, headers=op).status_code == 201  # fmt: skip
    assert (
        client.post(
            f"{API_PREFIX}/lots",
            json={"type": "PREM", "count": 3, "alternative_code": "L1"},
            headers=op,
        ).status_code
        == 201
    )
    assert client.post(f"{API_PREFIX}/lots/L1/generate", headers=op).status_code == 200
    number = client.get(f"{API_PREFIX}/vouchers", headers=op).json()["items"][0]["number"]
    client.post(
        f"{API_PREFIX}/definitions",
        json={"name": "D", "alternative_code": "D1"},
        headers=keys["admin"],
    )
    run = client.post(
        f"{API_PREFIX}/activations",
        json={"lot": "L1", "scheduled_for": "2030-01-01T00:00:00Z"},
        headers=fin,
    ).json()
    values = {"ref": "L1", "number": str(number), "run_id": str(run["id"])}

    outcomes: dict[bool, set[int]] = {True: set(), False: set()}
    for method, path, permission in catalogue_routes():
        url = API_PREFIX + path.format(
            **{
                **values,
                "ref": {"/voucher-types": "PREM", "/definitions": "D1"}.get(
                    "/" + path.split("/")[1], values["ref"]
                ),
            }
        )
        for key, role in KEY_ROLES.items():
            allowed = permission in ROLE_PERMISSIONS[role]
            before = None if allowed else snapshot(app)
            response = send(client, method, path, url, keys[key])
            problem = response.json() if response.status_code >= 400 else {}
            where = f"{key} {method} {path}: {response.status_code} {response.text[:200]}"
            assert response.status_code != 500, where
            outcomes[allowed].add(response.status_code)
            if allowed:
                assert problem.get("type") != "/problems/forbidden", where
            else:
                assert response.status_code == 403, where
                assert problem["type"] == "/problems/forbidden", where
                assert snapshot(app) == before, where
    # The allowed calls did real work: some succeeded, and only forbidden ones got 403.
    assert {200, 201} <= outcomes[True]
    assert outcomes[False] == {403}


def test_anonymous_callers_are_refused_everywhere_with_401(client: TestClient) -> None:
    for method, path, _ in catalogue_routes():
        url = API_PREFIX + path.format(ref="X", number="1", run_id="1")
        response = send(client, method, path, url)
        assert response.status_code == 401, f"{method} {path}"
        assert response.json()["type"] == "/problems/unauthenticated"
