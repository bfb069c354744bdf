"""``POST /api/v1/imports`` end to end, on SQLite and PostgreSQL: a CSV body of codes from
another system becomes a posted lot whose codes redeem over HTTP once a second user has
activated it; refused rows (duplicates in the file, codes already stored, bad formats)
are reported by line and reason in a 422 problem and nothing is imported, unless
``skip_invalid``; bad requests are problem documents and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from vouchers.adapters.db import schema
from vouchers.bootstrap import App
from vouchers.domain.codes import CodeFormat
from vouchers.entrypoints.api import imports

API = "/api/v1"
Keys = dict[str, dict[str, str]]
DEFAULT = CodeFormat()
CSV = {"Content-Type": "text/csv"}


def make_type(client: TestClient, keys: Keys, code: str = "PREM", **extra: Any) -> None:
    body = {"name": "Premium", "alternative_code": code, "currency": "EUR", "value": "50.00"}
    response = client.post(f"{API}/voucher-types", json=body | extra, headers=keys["operator"])
    assert response.status_code == 201, response.text


def csv_of(*codes: str, header: str = "code") -> bytes:
    return ("\n".join([header, *codes]) + "\n").encode()


def post_import(
    client: TestClient, keys: Keys, body: bytes, key: str = "operator", **params: Any
) -> Any:
    return client.post(
        f"{API}/imports",
        params={"type": "PREM", **params},
        content=body,
        headers=keys[key] | CSV,
    )


def snapshot(app: App) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table but the API keys (their use may be recorded)."""
    with app.engine.connect() as connection:
        return {
            name: sorted(tuple(map(repr, row)) for row in connection.execute(select(table)))
            for name, table in schema.metadata.tables.items()
            if name != "api_keys"
        }


def test_an_imported_file_redeems_over_http_after_a_second_user_activates_it(
    client: TestClient, keys: Keys
) -> None:
    # Given a type and a file of codes from another system, in display form, lower case
    make_type(client, keys)
    codes = DEFAULT.generate(3)
    body = csv_of(*(DEFAULT.display(code).lower() for code in codes))

    # when the operator imports it into lot OLD
    response = post_import(client, keys, body, lot="OLD", description="legacy")

    # then one posted lot holds the three codes, numbered from one block
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["rows"], report["imported"], report["rejected"]) == (3, 3, [])
    (lot,) = report["lots"]
    assert (lot["alternative_code"], lot["state"], lot["count"]) == ("OLD", "posted", 3)
    assert lot["created_by"] == "key:operator"
    assert lot["description"] == "legacy"
    assert lot["last_number"] == lot["first_number"] + 2
    assert str(codes[0]) not in response.text  # the report never repeats a code

    # and once finance has accepted and activated the lot, each code redeems once
    fin = keys["finance"]
    assert client.post(f"{API}/lots/OLD/accept", headers=fin).status_code == 200
    activated = client.post(f"{API}/activations", json={"lot": "OLD"}, headers=fin)
    assert activated.json()["count"] == 3, activated.text
    for code in codes:
        redeemed = client.post(
            f"{API}/redemptions",
            json={"code": DEFAULT.display(code), "customer": "C1"},
            headers=keys["integration"],
        )
        assert redeemed.status_code == 201, redeemed.text
        assert redeemed.json()["paid"] == "50.00 EUR"
    again = client.post(
        f"{API}/redemptions", json={"code": codes[0], "customer": "C1"}, headers=keys["integration"]
    )
    assert again.json()["type"] == "/problems/voucher-used"


def test_refused_rows_import_nothing_unless_skip_invalid_asks_for_the_rest(
    app: App, client: TestClient, keys: Keys
) -> None:
    # Given a file with a code too short and a code repeated
    make_type(client, keys)
    good = DEFAULT.generate(2)
    body = csv_of(good[0], "1234567", good[1], good[0].lower())
    before = snapshot(app)

    # when it is imported, nothing is, and the problem lists every refused row
    refused = post_import(client, keys, body)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"] == "/problems/import-refused"
    assert problem["detail"] == "nothing imported: 2 of 4 rows refused"
    assert (problem["rows"], problem["imported"], problem["lots"]) == (4, 0, [])
    assert [(r["line"], r["reason"]) for r in problem["rejected"]] == [
        (3, "length"),
        (5, "duplicate_in_file"),
    ]
    assert problem["rejected"][1]["message"] == "the same code as line 2"
    assert good[0] not in refused.text
    assert snapshot(app) == before

    # when skip_invalid is given, the two valid rows are imported and the others listed
    done = post_import(client, keys, body, skip_invalid="true")
    assert done.status_code == 201, done.text
    assert done.json()["imported"] == 2
    assert [(r["line"], r["reason"]) for r in done.json()["rejected"]] == [
        (3, "length"),
        (5, "duplicate_in_file"),
    ]

    # and the same codes again are refused as already stored, even with skip_invalid
    after = snapshot(app)
    again = post_import(client, keys, csv_of(*good), key="admin", skip_invalid="true")
    assert again.status_code == 422, again.text
    assert [(r["line"], r["reason"]) for r in again.json()["rejected"]] == [
        (2, "already_exists"),
        (3, "already_exists"),
    ]
    assert snapshot(app) == after


def test_options_set_the_value_expiry_and_extra_columns_are_reported(
    client: TestClient, keys: Keys
) -> None:
    make_type(client, keys, "VAR", value=None, value_option="variable")
    codes = DEFAULT.generate(2)
    body = csv_of(f"{codes[0]},,x", f"{codes[1]},20.00,y", header="code,value,used")

    response = client.post(
        f"{API}/imports",
        params={"type": "VAR", "value": "10.00", "expires_at": "2030-01-01T00:00:00Z"},
        content=body,
        headers=keys["operator"] | {"Content-Type": "text/csv; charset=utf-8"},
    )

    assert response.status_code == 201, response.text
    report = response.json()
    assert sorted((lot["value"], lot["count"]) for lot in report["lots"]) == [
        ("10.00 EUR", 1),
        ("20.00 EUR", 1),
    ]
    assert {lot["expires_at"] for lot in report["lots"]} == {"2030-01-01T00:00:00Z"}
    assert report["ignored_columns"] == ["used"]


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(imports, "MAX_IMPORT_BYTES", 1000)
    return 1000


def chunks(total: int) -> Iterator[bytes]:
    yield b"code\n"
    for _ in range(total // 100):
        yield b"A" * 99 + b"\n"


@pytest.mark.parametrize(
    ("request_", "status", "problem"),
    [
        ({"content": b""}, 422, "validation"),
        ({"content": b"\n\n"}, 422, "validation"),
        ({"content": b"code\n"}, 422, "validation"),  # a header, no rows
        ({"content": b"number,pin\n1,2\n"}, 422, "validation"),  # no code column
        ({"content": b"code\n\xff\xfe\x00\n"}, 422, "validation"),  # not UTF-8
        ({"content": b"code\n\x00\n"}, 422, "import-refused"),
        ({"content": b"code,prefix\nABCD,\x00\n"}, 422, "import-refused"),
        ({"content": b'{"code": "X"}', "type": "application/json"}, 415, "unsupported-media-type"),
        ({"content": b"code\nX\n", "type": "multipart/form-data"}, 415, "unsupported-media-type"),
        ({"content": b"code\nX\n", "type": None}, 415, "unsupported-media-type"),
        ({"params": {"type": "NOPE"}}, 404, "voucher-type-not-found"),
        ({"params": {"type": "PREM\x00"}}, 422, "validation"),
        ({"params": {"type": ""}}, 422, "validation"),
        ({"params": {"value": "ten"}}, 422, "amount"),
        ({"params": {"value": "10.00 USD"}}, 422, "amount"),
        ({"params": {"expires_at": "2030-01-01T00:00:00"}}, 422, "validation"),  # no zone
        ({"params": {"expires_at": "2020-01-01T00:00:00Z"}}, 422, "validation"),  # past
        ({"params": {"lot": "no spaces"}}, 422, "validation"),
        ({"params": {"lot": "TAKEN"}}, 409, "duplicate"),
        ({"params": {"skip_invalid": "perhaps"}}, 422, "validation"),
        ({"params": {"description": "a\x00b"}}, 422, "validation"),
        ({"content": b"code\n" + b"A" * 2000 + b"\n"}, 413, "content-too-large"),
        ({"chunked": 5000}, 413, "content-too-large"),  # no Content-Length
    ],
)
def test_bad_requests_are_problems_and_change_nothing(
    app: App,
    client: TestClient,
    keys: Keys,
    small_limit: int,
    request_: dict[str, Any],
    status: int,
    problem: str,
) -> None:
    # Given a type and a lot TAKEN
    make_type(client, keys)
    taken = {"type": "PREM", "count": 1, "alternative_code": "TAKEN"}
    assert client.post(f"{API}/lots", json=taken, headers=keys["operator"]).status_code == 201
    before = snapshot(app)
    media_type = request_.get("type", "text/csv")
    headers = keys["operator"] | ({} if media_type is None else {"Content-Type": media_type})
    content = request_.get("content", csv_of(DEFAULT.generate(1)[0]))
    if "chunked" in request_:
        content = chunks(request_["chunked"])

    response = client.post(
        f"{API}/imports",
        params={"type": "PREM", **request_.get("params", {})},
        content=content,
        headers=headers,
    )

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"/problems/{problem}"
    assert snapshot(app) == before


def test_only_roles_that_may_import_do(app: App, client: TestClient, keys: Keys) -> None:
    make_type(client, keys)
    before = snapshot(app)
    for key in ("finance", "support", "auditor", "integration", "customer:C1"):
        refused = post_import(client, keys, csv_of(DEFAULT.generate(1)[0]), key=key)
        assert refused.status_code == 403, key
        assert refused.json()["type"] == "/problems/forbidden"
    anonymous = client.post(f"{API}/imports?type=PREM", content=b"code\n", headers=CSV)
    assert anonymous.status_code == 401
    assert snapshot(app) == before
    assert post_import(client, keys, csv_of(DEFAULT.generate(1)[0]), key="admin").status_code == 201
