"""End to end through a real ``vouchers serve`` process on 127.0.0.1 with PostgreSQL: a
voucher's whole life over HTTP (type, lot, generation, four-eyes acceptance, activation,
redemption, reversal), console sign-in with CSRF, health, metrics, and the JSON access log
that never shows a code in clear."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from vouchers.bootstrap import bootstrap
from vouchers.config import Settings
from vouchers.services import access

STARTUP_SECONDS = 60


@dataclass
class Server:
    """A running ``vouchers serve`` and what the test set up before it started."""

    url: str
    process: subprocess.Popen[str]
    log_path: Path
    keys: dict[str, dict[str, str]]
    password: str

    def log_lines(self) -> list[dict[str, object]]:
        """The server's JSON log lines so far (stderr)."""
        lines = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(home: Path, database_url: str, log_path: Path, *args: str) -> tuple[str, Any]:
    port = free_port()
    env = {
        **os.environ,
        "VOUCHERS_SECURE_COOKIES": "0",
        "VOUCHERS_EMBEDDED_WORKER": "1",
        "VOUCHERS_USER": "server",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "vouchers", "--database-url", database_url, "--home"]
    process = subprocess.Popen(
        [*command, str(home), "serve", "--port", str(port), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log_path.open("w"),
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"vouchers serve exited {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return url, process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"vouchers serve did not become ready:\n{log_path.read_text()}")


def stop_server(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


@pytest.fixture
def server(postgres_url: str, tmp_path: Path) -> Iterator[Server]:
    """``vouchers serve`` on PostgreSQL with API keys for a maker, a checker, an admin and an
    integration, and a staff user ``olivia`` (operator) who signs in with a password."""
    home = tmp_path / "home"
    settings = Settings.from_env({}, home=home, database_url=postgres_url, actor="setup")
    app = bootstrap(settings, environ={})
    keys: dict[str, dict[str, str]] = {}
    try:
        for name, role in (
            ("maker", "operator"),
            ("checker", "finance"),
            ("root", "admin"),
            ("shop", "integration"),
        ):
            issued = access.create_api_key(
                name, roles=[role], uow=app.uow(), clock=app.clock, actor="setup"
            )
            keys[name] = {"Authorization": f"Bearer {issued.key}"}
        password = "correct horse battery staple"
        access.create_user(
            "olivia",
            password,
            roles=["operator"],
            uow=app.uow(),
            passwords=app.passwords,
            clock=app.clock,
            actor="setup",
        )
    finally:
        app.close()
    log_path = tmp_path / "server.log"
    url, process = start_server(home, postgres_url, log_path)
    try:
        yield Server(url, process, log_path, keys, password)
    finally:
        if process.poll() is None:
            stop_server(process)


def test_a_voucher_lives_its_whole_life_over_http(server: Server) -> None:
    keys = server.keys
    with httpx.Client(base_url=server.url, timeout=30) as http:
        # Given a type and a lot made by the maker, generated, accepted by a second user
        created = http.post(
            "/api/v1/voucher-types",
            headers=keys["maker"],
            json={
                "name": "E2E card",
                "alternative_code": "E2E",
                "currency": "EUR",
                "value": "25.00",
            },
        )
        assert created.status_code == 201, created.text
        lot = http.post("/api/v1/lots", headers=keys["maker"], json={"type": "E2E", "count": 3})
        assert lot.status_code == 201, lot.text
        lot_code = lot.json()["alternative_code"]
        generated = http.post(f"/api/v1/lots/{lot_code}/generate", headers=keys["maker"])
        assert generated.status_code == 200, generated.text
        refused = http.post(f"/api/v1/lots/{lot_code}/accept", headers=keys["maker"])
        assert refused.status_code == 403, refused.text  # four eyes: not the generator
        accepted = http.post(f"/api/v1/lots/{lot_code}/accept", headers=keys["checker"])
        assert accepted.status_code == 200, accepted.text
        activated = http.post(
            "/api/v1/activations", headers=keys["checker"], json={"lot": lot_code}
        )
        assert activated.status_code == 200, activated.text
        listed = http.get("/api/v1/vouchers", headers=keys["root"], params={"lot": lot_code})
        vouchers = listed.json()["items"]
        assert [v["state"] for v in vouchers] == ["activated"] * 3
        number = vouchers[0]["number"]
        code = http.post(
            f"/api/v1/vouchers/{number}/reveal", headers=keys["root"], json={"reason": "e2e"}
        ).json()["code"]
        customer = http.post(
            "/api/v1/customers", headers=keys["shop"], json={"external_ref": "E2E-1"}
        )
        assert customer.status_code == 201, customer.text

        # When the integration redeems it, and finance reverses the redemption
        redeemed = http.post(
            "/api/v1/redemptions",
            headers={**keys["shop"], "X-Request-ID": "e2e-redeem-1"},
            json={"code": code, "customer": "E2E-1"},
        )
        again = http.post(
            "/api/v1/redemptions", headers=keys["shop"], json={"code": code, "customer": "E2E-1"}
        )
        reversal = http.post(
            f"/api/v1/redemptions/{redeemed.json()['redemption_id']}/reversal",
            headers=keys["checker"],
            json={"reason": "refund"},
        )
        http.get("/readyz", params={"code": code})  # a code in a query is masked in the log
        metrics = http.get("/metrics").text

    # Then every step answered as it should, and the operator's view agrees
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.headers["x-request-id"] == "e2e-redeem-1"
    assert redeemed.json()["voucher_number"] == number
    assert again.status_code == 422
    assert again.json()["type"] == "/problems/voucher-used"
    assert reversal.status_code == 200, reversal.text
    assert 'vouchers_redemptions_total{result="completed"} 1.0' in metrics
    assert 'vouchers_redemptions_total{result="voucher-used"} 1.0' in metrics
    assert 'vouchers_redemptions_total{result="reversed"} 1.0' in metrics
    assert 'vouchers_failed_attempts_total{reason="voucher-used"} 1.0' in metrics
    assert 'route="/api/v1/lots/{ref}/accept",status="403"' in metrics
    assert "vouchers_http_request_duration_seconds_bucket" in metrics

    # And the access log has one JSON line per request, with ids and principals, no code
    assert stop_server(server.process) == 0
    access_lines = [line for line in server.log_lines() if line["logger"] == "vouchers.access"]
    redeem_line = next(line for line in access_lines if line["request_id"] == "e2e-redeem-1")
    assert redeem_line["method"] == "POST"
    assert redeem_line["path"] == "/api/v1/redemptions"
    assert redeem_line["status"] == 201
    assert redeem_line["principal"] == "key:shop"
    assert isinstance(redeem_line["duration_ms"], float)
    assert any(str(line["path"]).startswith("/readyz?code=****") for line in access_lines)
    log_text = server.log_path.read_text()
    assert code not in log_text
    assert code.replace("-", "") not in log_text
    assert any(line.get("message") == "embedded run worker stopped" for line in server.log_lines())


def test_a_console_session_needs_its_csrf_token_for_changes(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        wrong = http.post("/api/v1/sessions", json={"username": "olivia", "password": "nope"})
        signed_in = http.post(
            "/api/v1/sessions", json={"username": "Olivia", "password": server.password}
        )
        token = signed_in.json()["csrf_token"]
        session_cookie = signed_in.headers.get_list("set-cookie")
        who = http.get("/api/v1/sessions/current")
        body = {"name": "Session card", "alternative_code": "SESS", "currency": "EUR", "value": "5"}
        forged = http.post("/api/v1/voucher-types", json=body)
        made = http.post("/api/v1/voucher-types", json=body, headers={"X-CSRF-Token": token})
        signed_out = http.delete("/api/v1/sessions", headers={"X-CSRF-Token": token})
        after = http.get("/api/v1/sessions/current")

    assert wrong.status_code == 401
    assert signed_in.status_code == 201, signed_in.text
    assert any(
        c.startswith("vouchers_session=") and "HttpOnly" in c and "SameSite=lax" in c
        for c in session_cookie
    )
    assert not any("Secure" in c for c in session_cookie)  # VOUCHERS_SECURE_COOKIES=0
    assert who.json()["username"] == "olivia"
    assert forged.status_code == 403
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == "olivia"
    assert signed_out.status_code == 204
    assert after.status_code == 401
