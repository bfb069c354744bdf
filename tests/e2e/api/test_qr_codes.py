"""``GET /api/v1/vouchers/{number}/qr.png`` and ``qr.svg`` end to end, on SQLite and
PostgreSQL: the image decodes back to the redemption page with the code filled in; showing
it is a reveal (finance, a reason, recorded in the voucher's history, never cached);
roles without the reveal get 403 and unknown or purged vouchers are refused."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image

from support.factories import clear_codes, history_rows
from vouchers.adapters.qr import render_qr
from vouchers.bootstrap import App
from vouchers.domain.codes import CodeFormat
from vouchers.services.qr_codes import QrFormat, redemption_url

API = "/api/v1"
Keys = dict[str, dict[str, str]]
DEFAULT = CodeFormat()


@pytest.fixture
def number(client: TestClient, keys: Keys) -> int:
    """The first voucher of a generated lot L1 of type PREM (draft)."""
    op = keys["operator"]
    body = {"name": "Premium", "alternative_code": "PREM", "currency": "EUR", "value": "50.00"}
    assert client.post(f"{API}/voucher-types", json=body, headers=op).status_code == 201
    lot = {"type": "PREM", "count": 2, "alternative_code": "L1"}
    assert client.post(f"{API}/lots", json=lot, headers=op).status_code == 201
    assert client.post(f"{API}/lots/L1/generate", headers=op).status_code == 200
    return int(client.get(f"{API}/vouchers", headers=op).json()["items"][0]["number"])


def test_the_png_decodes_to_the_redemption_page_with_the_code_and_is_recorded(
    app: App, client: TestClient, keys: Keys, number: int
) -> None:
    # When finance asks for the QR code of a voucher, saying why
    response = client.get(
        f"{API}/vouchers/{number}/qr.png", params={"reason": "reprint"}, headers=keys["finance"]
    )

    # then it is a PNG that opens this server's redemption page with the code filled in
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "no-store"
    code = DEFAULT.display(clear_codes(app)[number])
    decoded = {r.text for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(response.content)))}
    assert decoded == {f"http://testserver/redeem?code={code}"}

    # and the voucher's history records it like a reveal: who, when and why
    history = client.get(f"{API}/vouchers/{number}/history", headers=keys["auditor"]).json()
    reveals = [entry for entry in history if entry["process"] == "reveal"]
    assert [(e["by"], e["note"]) for e in reveals] == [("key:finance", "reprint (QR code, png)")]
    assert code not in str(history)


def test_the_svg_is_an_svg_document_of_the_given_redemption_page(
    app: App, client: TestClient, keys: Keys, number: int
) -> None:
    page = "https://shop.example/redeem?lang=en"
    response = client.get(
        f"{API}/vouchers/{number}/qr.svg",
        params={"reason": "card lost", "redeem_url": page},
        headers=keys["admin"],
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["cache-control"] == "no-store"
    root = ET.fromstring(response.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    # exactly the symbol the adapter draws for that address and code (as CLI and sheets do)
    url = redemption_url(DEFAULT.display(clear_codes(app)[number]), page)
    assert response.content == render_qr(url, QrFormat.SVG)
    notes = [row["note"] for row in history_rows(app, process="reveal")]
    assert notes == ["card lost (QR code, svg)"]


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_roles_without_the_reveal_are_refused_and_nothing_is_recorded(
    app: App, client: TestClient, keys: Keys, number: int, suffix: str
) -> None:
    for key in ("operator", "support", "auditor", "integration", "customer:C1"):
        response = client.get(
            f"{API}/vouchers/{number}/qr.{suffix}", params={"reason": "x"}, headers=keys[key]
        )
        assert response.status_code == 403, key
        assert response.json()["type"] == "/problems/forbidden"
    anonymous = client.get(f"{API}/vouchers/{number}/qr.{suffix}", params={"reason": "x"})
    assert anonymous.status_code == 401
    assert history_rows(app, process="reveal") == []


@pytest.mark.parametrize(
    ("path", "params", "status", "problem"),
    [
        ("/vouchers/999999/qr.png", {"reason": "x"}, 404, "voucher-not-found"),
        ("/vouchers/999999/qr.svg", {"reason": "x"}, 404, "voucher-not-found"),
        ("/vouchers/{n}/qr.png", {}, 422, "validation"),  # no reason
        ("/vouchers/{n}/qr.png", {"reason": ""}, 422, "validation"),
        ("/vouchers/{n}/qr.png", {"reason": "   "}, 422, "validation"),
        ("/vouchers/{n}/qr.png", {"reason": "a\x00b"}, 422, "validation"),
        ("/vouchers/{n}/qr.png", {"reason": "x" * 501}, 422, "validation"),
        ("/vouchers/{n}/qr.svg", {"reason": "x", "redeem_url": "javascript:alert(1)"}, 422,
         "validation"),
        ("/vouchers/{n}/qr.svg", {"reason": "x", "redeem_url": "https://" + "a" * 500}, 422,
         "validation"),
        ("/vouchers/0/qr.png", {"reason": "x"}, 422, "validation"),
        ("/vouchers/{n}/qr.gif", {"reason": "x"}, 404, "not-found"),
    ],
)  # fmt: skip
def test_bad_requests_are_problems_and_record_nothing(
    app: App,
    client: TestClient,
    keys: Keys,
    number: int,
    path: str,
    params: dict[str, str],
    status: int,
    problem: str,
) -> None:
    response = client.get(API + path.format(n=number), params=params, headers=keys["finance"])
    assert response.status_code == status, response.text
    assert response.json()["type"] == f"/problems/{problem}"
    assert history_rows(app, process="reveal") == []


def test_a_purged_voucher_has_no_qr_code_any_more(
    app: App, client: TestClient, keys: Keys, number: int
) -> None:
    # Given the lot rejected and purged: its secrets destroyed
    fin = keys["finance"]
    assert client.post(f"{API}/lots/L1/reject", headers=fin).status_code == 200
    purged = client.post(f"{API}/purges", json={"lot": "L1"}, headers=fin)
    assert purged.status_code == 200, purged.text

    response = client.get(f"{API}/vouchers/{number}/qr.png", params={"reason": "x"}, headers=fin)

    assert response.status_code == 409, response.text
    assert response.json()["type"] == "/problems/invalid-transition"
    assert history_rows(app, process="reveal") == []
