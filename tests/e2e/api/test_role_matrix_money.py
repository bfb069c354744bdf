"""Every money route (customers, wallets, ledger, redemptions, settings) called by every
role, on both databases: a call the role table (``ROLE_PERMISSIONS``) does not grant is
refused with 403 — or 404 for a customer-scoped key reaching another customer, so that
existence does not leak — and changes nothing; a granted call is never refused.

The routes are found by introspecting the app, so a new route without a row here fails.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from support.redeeming import customer, issue, redeem
from vouchers.adapters.db import schema
from vouchers.bootstrap import App
from vouchers.domain.access import ROLE_PERMISSIONS, Permission, Role
from vouchers.entrypoints.api import customers, ledger, redemptions, settings, wallets
from vouchers.entrypoints.api.app import API_PREFIX

REQUIREMENTS = {f"require_{p.value.replace('.', '_')}": p for p in Permission}
# What a refused call must leave exactly as it was (whole rows, not just counts).
WATCHED = (
    schema.customers,
    schema.customer_passwords,
    schema.wallets,
    schema.journal_entries,
    schema.postings,
    schema.redemptions,
    schema.idempotency_keys,
    schema.settings,
    schema.setting_changes,
    schema.failed_attempts,
    schema.events,
    schema.vouchers,
)
EXPECTED_ROUTES = {
    ("POST", "/customers"),
    ("GET", "/customers"),
    ("GET", "/customers/{ref}"),
    ("PATCH", "/customers/{ref}"),
    ("POST", "/customers/{ref}/password"),
    ("GET", "/customers/{ref}/wallets"),
    ("POST", "/customers/{ref}/debits"),
    ("GET", "/customers/{ref}/redemptions"),
    ("POST", "/redemptions"),
    ("POST", "/redemptions/validate"),
    ("GET", "/redemptions/{redemption_id}"),
    ("POST", "/redemptions/{redemption_id}/reversal"),
    ("GET", "/ledger/entries"),
    ("GET", "/ledger/verify"),
    ("GET", "/settings"),
    ("GET", "/settings/changes"),
    ("PUT", "/settings/{key}"),
}


def snapshot(app: App) -> dict[str, list[tuple[Any, ...]]]:
    with app.engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(row) for row in connection.execute(sa.select(table))), key=repr
            )
            for table in WATCHED
        }


def permission_of(route: APIRoute) -> Permission:
    """The one permission a route declares through ``require(...)``."""

    def calls(dependant: Any) -> Iterator[Any]:
        for dependency in dependant.dependencies:
            yield dependency.call
            yield from calls(dependency)

    found = {REQUIREMENTS[c.__name__] for c in calls(route.dependant) if c.__name__ in REQUIREMENTS}
    assert len(found) == 1, f"{route.path} declares {found or 'no permission'}"
    return found.pop()


def money_routes(client: TestClient) -> list[tuple[str, str, Permission]]:
    """(method, path under the API prefix, permission) of every route of the money modules,
    each checked to be served by the app (it is in the app's OpenAPI document)."""
    served = client.get(f"{API_PREFIX}/openapi.json").json()["paths"]
    routes = []
    for module in (customers, wallets, ledger, redemptions, settings):
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods):
                assert method.lower() in served[API_PREFIX + route.path], route.path
                routes.append((method, route.path, permission_of(route)))
    return routes


def principals(
    keys: dict[str, dict[str, str]],
) -> dict[str, tuple[dict[str, str], set[Permission]]]:
    """Headers and the permissions expected to be granted, for every key and nobody.

    ``customer:C1`` is an integration key confined to C1; every call below names another
    customer or no customer at all, so it is granted nothing here.
    """
    table: dict[str, tuple[dict[str, str], set[Permission]]] = {"anonymous": ({}, set())}
    for name, headers in keys.items():
        role = "finance" if name == "second-finance" else name
        granted = set() if name.startswith("customer:") else set(ROLE_PERMISSIONS[Role(role)])
        table[name] = (headers, granted)
    return table


@pytest.fixture
def world(app: App) -> dict[str, Any]:
    """C2 with a completed redemption and a balance; fresh codes for redeeming calls."""
    customer(app, "C2")
    (first,) = issue(app, "CRM", 1, name="All Services", value_minor=3000, extra_value_minor=500)
    done = redeem(app, first, "C2")
    codes = issue(app, "CRM", 24)
    return {"redemption_id": done.redemption_id, "codes": iter(codes)}


def test_every_money_route_refuses_every_role_it_does_not_grant_and_changes_nothing(
    app: App, client: TestClient, keys: dict[str, dict[str, str]], world: dict[str, Any]
) -> None:
    routes = money_routes(client)
    assert {(m, p) for m, p, _ in routes} == EXPECTED_ROUTES
    serial = itertools.count()

    def call(method: str, path: str, headers: dict[str, str]) -> Any:
        n = next(serial)
        redeeming = method == "POST" and path in ("/redemptions", "/redemptions/validate")
        code = next(world["codes"]) if redeeming else ""
        keyed = {**headers, "Idempotency-Key": f"matrix-{n}"}
        requests: dict[tuple[str, str], tuple[str, Any, dict[str, str]]] = {
            ("POST", "/customers"): ("/customers", {"external_ref": f"M-{n}"}, headers),
            ("GET", "/customers"): ("/customers", None, headers),
            ("GET", "/customers/{ref}"): ("/customers/C2", None, headers),
            ("PATCH", "/customers/{ref}"): ("/customers/C2", {"name": f"renamed {n}"}, headers),
            ("POST", "/customers/{ref}/password"): (
                "/customers/C2/password",
                {"password": f"matrix password {n}"},
                headers,
            ),
            ("GET", "/customers/{ref}/wallets"): ("/customers/C2/wallets", None, headers),
            ("POST", "/customers/{ref}/debits"): (
                "/customers/C2/debits",
                {"amount": "0.01", "currency": "EUR"},
                keyed,
            ),
            ("GET", "/customers/{ref}/redemptions"): ("/customers/C2/redemptions", None, headers),
            ("POST", "/redemptions"): (
                "/redemptions",
                {"code": code, "customer": "C2"},
                keyed,
            ),
            ("POST", "/redemptions/validate"): (
                "/redemptions/validate",
                {"code": code, "customer": "C2"},
                headers,
            ),
            ("GET", "/redemptions/{redemption_id}"): (
                f"/redemptions/{world['redemption_id']}",
                None,
                headers,
            ),
            ("POST", "/redemptions/{redemption_id}/reversal"): (
                f"/redemptions/{world['redemption_id']}/reversal",
                {"reason": "matrix"},
                headers,
            ),
            ("GET", "/ledger/entries"): ("/ledger/entries", None, headers),
            ("GET", "/ledger/verify"): ("/ledger/verify", None, headers),
            ("GET", "/settings"): ("/settings", None, headers),
            ("GET", "/settings/changes"): ("/settings/changes", None, headers),
            ("PUT", "/settings/{key}"): (
                "/settings/default_expiry_days",
                {"value": "365"},
                headers,
            ),
        }
        concrete, body, sent = requests[(method, path)]
        return client.request(method, API_PREFIX + concrete, json=body, headers=sent)

    refusals: list[str] = []
    for method, path, permission in routes:
        for name, (headers, granted) in principals(keys).items():
            before = snapshot(app)
            response = call(method, path, headers)
            where = f"{name} {method} {path} -> {response.status_code} {response.text[:200]}"
            assert response.status_code < 500, where
            if permission in granted:
                assert response.status_code not in (401, 403, 404), where
                continue
            refusals.append(where)
            if name == "anonymous":
                assert response.status_code == 401, where
            elif name.startswith("customer:"):
                assert response.status_code in (403, 404), where
            else:
                assert response.status_code == 403, where
            assert response.headers["content-type"] == "application/problem+json", where
            assert snapshot(app) == before, f"a refused call changed something: {where}"

    # Every route refused someone, and the scoped key was refused everywhere
    assert {r.split(" ")[2] for r in refusals} == {p for _, p, _ in routes}
    assert sum(r.startswith("customer:C1 ") for r in refusals) == len(routes)
