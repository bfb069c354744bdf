"""Benchmark: the staff console's voucher list on a million-voucher installation.

For each database (SQLite file; a throwaway durable PostgreSQL cluster, or the server in
VOUCHERS_BENCH_POSTGRES_URL) this makes a fresh database and, untimed, generates one lot
of N vouchers through the service layer with the worker pool (as ``vouchers lots
generate`` does), plus a small second lot, and signs a staff user in. Then, against a real
``vouchers`` server (uvicorn on 127.0.0.1, the same ASGI app ``vouchers serve`` runs), it
times whole HTTP requests — routing, session check, the keyset query, masking, Jinja2
rendering of 50 rows, the answer over the socket — for each page of the list:

- the first page, with no filter, and a page from the middle (``after=N/2``);
- one lot's first page and a page from its middle;
- one type, one state (``draft``: every voucher of the lot) and a number range;
- a customer with no vouchers (the partial customer indexes answer at once);
- and, for information, the dashboard (one scan tallying every voucher) and the lot page
  (one lot's vouchers tallied by state); they have no target.

Each figure is the median (and the 95th percentile) of ``--repeat`` requests after one
warm-up request. Target (issue #7): every voucher-list page under 200 ms on PostgreSQL;
SQLite is reported against the same bar. ``--smoke`` runs 20,000 vouchers and a few
requests, for CI. Run: ``uv run python bench/console.py`` (``--count``, ``--repeat``,
``--only``, ``--check``, ``--smoke``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.browser import live_server
from support.console import client_sign_in, make_staff
from support.postgres import benchmark_server
from vouchers.bootstrap import App, bootstrap
from vouchers.config import Settings
from vouchers.domain.money import currency
from vouchers.domain.voucher_types import VoucherType
from vouchers.entrypoints.api.app import create_app
from vouchers.services import customers, lots, voucher_types

TARGET_MS = 200.0
TARGET_DATABASES = frozenset({"postgresql"})


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def set_up(app: App, count: int) -> str:
    """Untimed: a type, a lot of ``count`` vouchers and a small second lot; the big lot's code."""
    voucher_types.create_voucher_type(
        VoucherType(
            alternative_code="BENCH", name="Bench", currency=currency("EUR"), value_minor=5000
        ),
        uow=app.uow(),
        clock=app.clock,
        actor="maker",
    )
    made = []
    with app.worker_pool() as pool:
        for size in (count, 1000):
            lot = lots.create_lot(
                "BENCH", count=size, uow=app.uow(), clock=app.clock, actor="maker"
            )
            lots.generate_lot(
                lot.alternative_code,
                uow=app.uow(),
                vault=app.vault,
                clock=app.clock,
                actor="maker",
                executor=pool,
            )
            made.append(lot.alternative_code)
    make_staff(app, "audrey")
    customers.create_customer("C-EMPTY", uow=app.uow(), clock=app.clock, actor="bench")
    return made[0]


def analyse(app: App) -> None:
    """Fresh statistics, as autovacuum would have them on a live installation."""
    if app.engine.dialect.name == "postgresql":
        with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with app.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()


def pages(lot: str, count: int) -> list[tuple[str, str, bool]]:
    """(name, path, has the 200 ms target)."""
    middle = count // 2
    return [
        ("list, first page", "/console/vouchers", True),
        ("list, middle page", f"/console/vouchers?after={middle}", True),
        ("lot, first page", f"/console/vouchers?lot={lot}", True),
        ("lot, middle page", f"/console/vouchers?lot={lot}&after={middle}", True),
        ("type, first page", "/console/vouchers?type=BENCH", True),
        ("state draft", "/console/vouchers?state=draft", True),
        (
            "number range",
            f"/console/vouchers?number_from={middle}&number_to={middle + 500}",
            True,
        ),
        ("customer (none)", "/console/vouchers?customer=C-EMPTY", True),
        ("dashboard", "/console", False),
        ("lot page", f"/console/lots/{lot}", False),
    ]


def time_requests(client: httpx.Client, path: str, repeat: int) -> list[float]:
    """Milliseconds of ``repeat`` requests after one warm-up; each must answer 200."""
    answer = client.get(path)
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        answer = client.get(path)
        timings.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, (path, answer.status_code)
    return timings


def measure(name: str, url: str, count: int, home: Path, repeat: int) -> list[dict[str, Any]]:
    app = bootstrap(Settings.from_env({}, home=home, database_url=url, actor="bench"), environ={})
    try:
        start = time.perf_counter()
        lot = set_up(app, count)
        analyse(app)
        log(f"{name}: set-up, {count:,} vouchers generated in {time.perf_counter() - start:.1f} s")
        api = create_app(app)
        rows = []
        with live_server(api) as base:
            signer = TestClient(api)  # signs in through the form; the timing is httpx's
            client_sign_in(signer, "audrey")
            cookies = dict(signer.cookies)
            with httpx.Client(base_url=base, cookies=cookies, timeout=60) as client:
                for page_name, path, targeted in pages(lot, count):
                    timings = time_requests(client, path, repeat)
                    median = statistics.median(timings)
                    p95 = sorted(timings)[max(0, round(0.95 * len(timings)) - 1)]
                    rows.append(
                        {
                            "database": name,
                            "page": page_name,
                            "path": path,
                            "vouchers": count,
                            "median_ms": round(median, 1),
                            "p95_ms": round(p95, 1),
                            "requests": repeat,
                            "target_ms": TARGET_MS if targeted else None,
                            "met": (not targeted)
                            or name not in TARGET_DATABASES
                            or median < TARGET_MS,
                        }
                    )
                    log(f"{name}: {page_name:<18} median {median:7.1f} ms, p95 {p95:7.1f} ms")
        return rows
    finally:
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="vouchers in the big lot")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--smoke", action="store_true", help="20,000 vouchers, 3 requests")
    args = parser.parse_args()
    if args.smoke:
        args.count, args.repeat = 20_000, 3

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="vouchers-bench-") as tmp:
        workdir = Path(tmp)
        if args.only in (None, "sqlite"):
            url = f"sqlite:///{workdir / 'console.db'}"
            results += measure("sqlite", url, args.count, workdir / "home-s", args.repeat)
        if args.only in (None, "postgresql"):
            server = benchmark_server()
            with server, server.temporary_database() as url:
                results += measure("postgresql", url, args.count, workdir / "home-p", args.repeat)
    print_results(results)
    if args.check and not all(r["met"] for r in results):
        sys.exit(1)


def print_results(results: list[dict[str, Any]]) -> None:
    print(f"{'database':<11}{'page':<20}{'vouchers':>10}{'median':>10}{'p95':>10}  target")
    for r in results:
        if r["target_ms"] is None:
            target = "(none)"
        elif r["database"] in TARGET_DATABASES:
            target = f"< {r['target_ms']:.0f} ms " + ("✔" if r["met"] else "MISSED")
        else:
            target = f"(< {r['target_ms']:.0f} ms: {'✔' if r['median_ms'] < TARGET_MS else '✘'})"
        print(
            f"{r['database']:<11}{r['page']:<20}{r['vouchers']:>10,}"
            f"{r['median_ms']:>8.1f}ms{r['p95_ms']:>8.1f}ms  {target}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
