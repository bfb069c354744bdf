"""Benchmark: redemptions per second over HTTP through ``vouchers serve``, against baseline B.

For PostgreSQL (a durable throwaway cluster, or ``VOUCHERS_BENCH_POSTGRES_URL``) and SQLite,
in a fresh database: the redemption benchmark's set-up (``bench/redeem.py``: a 50.00 EUR
type, one activated lot cut into ranges, customers with zero wallets), an integration API
key, then ``vouchers serve`` (``--workers``, embedded run worker off) in its own process
group. A load generator in this process (httpx on asyncio, ``--connections`` concurrent
connections, one task each) redeems distinct codes with ``POST /api/v1/redemptions`` for
``--seconds``: requests/s over the wall time, p50/p99 latency, errors (anything but 201).

Beside it, from the same run: baseline B of the redemption benchmark (the minimal
three-statement transaction through ``pgbench -M prepared`` at the same number of clients,
its own range), and a FastAPI "hello world" (``GET /hello`` returning a small JSON object)
under the same uvicorn settings and the same load generator.

Targets (issue #5): on PostgreSQL, throughput ≥ 25% of B and p99 ≤ 50 ms. SQLite is
reported beside them (one server process: SQLite has one writer).

Run: ``uv run python bench/api.py`` (``--seconds``, ``--connections``, ``--workers``,
``--vouchers``, ``--customers``, ``--only``, ``--check``, ``--smoke``).
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's ``http``: drop its directory from the path
# before anything imports ``http.client``.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import deque  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402

_spec = importlib.util.spec_from_file_location("redeem_bench", _HERE / "redeem.py")
assert _spec is not None
assert _spec.loader is not None
redeem = importlib.util.module_from_spec(_spec)
sys.modules["redeem_bench"] = redeem  # dataclasses look their module up there
_spec.loader.exec_module(redeem)

from support.postgres import PostgresServer, benchmark_server  # noqa: E402
from vouchers.bootstrap import bootstrap  # noqa: E402
from vouchers.config import Settings  # noqa: E402
from vouchers.services import access  # noqa: E402

TARGET_OF_B = 0.25
TARGET_P99_MS = 50.0
SMOKE = {"seconds": 1.0, "vouchers": 3_000, "customers": 100, "connections": 8}
DEFAULTS = {"seconds": 15.0, "vouchers": 60_000, "customers": 1_000, "connections": 32}
HELLO = """from fastapi import FastAPI

app = FastAPI()


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": "world"}
"""


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(argv: list[str], env: dict[str, str], url: str, log_path: Path) -> subprocess.Popen[str]:
    """Start a server process group and wait until ``url`` answers."""
    process = subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log_path.open("w"),
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop(process)
    raise SystemExit(f"server did not start:\n{log_path.read_text()}")


def stop(process: subprocess.Popen[str]) -> None:
    """Stop the server's process group (uvicorn and its workers)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


async def load(
    url: str,
    requests: deque[tuple[str, dict[str, Any] | None]],
    *,
    method: str,
    headers: dict[str, str],
    connections: int,
    seconds: float,
    expect: int,
) -> dict[str, Any]:
    """``connections`` tasks send the queued requests until the time is up."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as http:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline and requests:
                path, body = requests.popleft()
                started = time.perf_counter()
                try:
                    answer = await http.request(method, path, json=body)
                    status = str(answer.status_code)
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                latencies.append(time.perf_counter() - started)
                if status != str(expect):
                    errors[status] = errors.get(status, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        wall = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "per_second": len(latencies) / wall,
        "p50_ms": redeem.percentile(latencies, 0.50) * 1000 if latencies else None,
        "p99_ms": redeem.percentile(latencies, 0.99) * 1000 if latencies else None,
        "errors": errors,
        "exhausted": not requests,
    }


def measure(
    database: str, url: str, home: Path, workdir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    settings = Settings.from_env({}, home=home, database_url=url, actor=redeem.MAKER)
    app = bootstrap(settings, environ={})
    try:
        sizes = {"http": args.vouchers} | ({"B": args.vouchers} if database == "postgresql" else {})
        data = redeem.set_up(app, sizes, args.customers, {"http"})
        key = access.create_api_key(
            "bench", roles=["integration"], uow=app.uow(), clock=app.clock, actor="bench"
        ).key
        redeem.settle(app.engine)
    finally:
        app.close()
    workers = args.workers if database == "postgresql" else 1
    log(f"{database}: set-up done; vouchers serve with {workers} worker(s)")

    port = free_port()
    env = {
        **os.environ,
        "VOUCHERS_EMBEDDED_WORKER": "0",
        "VOUCHERS_LOG_LEVEL": "WARNING",  # one access line a request would bench the logger
    }
    serve = [sys.executable, "-m", "vouchers", "--database-url", url, "--home", str(home)]
    serve += ["serve", "--port", str(port), "--workers", str(workers)]
    base = f"http://127.0.0.1:{port}"
    server = start(serve, env, f"{base}/readyz", workdir / f"serve-{database}.log")
    try:
        queue: deque[tuple[str, dict[str, Any] | None]] = deque(
            (
                "/api/v1/redemptions",
                {"code": data.codes[n], "customer": random.choice(data.refs)},
            )
            for n in data.ranges["http"]
        )
        http = asyncio.run(
            load(
                base,
                queue,
                method="POST",
                headers={"Authorization": f"Bearer {key}"},
                connections=args.connections,
                seconds=args.seconds,
                expect=201,
            )
        )
    finally:
        stop(server)
    log(f"{database}: HTTP {http['per_second']:,.0f}/s, p99 {http['p99_ms']:.1f} ms")

    result: dict[str, Any] = {"database": database, "workers": workers, "http": http}
    if database == "postgresql":
        app = bootstrap(settings, environ={})
        try:
            redeem.settle(app.engine)
            at = app.clock()
        finally:
            app.close()
        b = redeem.run_pgbench(
            url,
            redeem.PREAMBLE + redeem.MINIMAL,
            redeem.range_variables(data.ranges["B"], data, at),
            clients=args.connections,
            seconds=args.seconds,
            workdir=workdir,
        )
        result["baseline_b"] = {k: v for k, v in b.items() if k != "output"}
        result["ratio_b"] = http["per_second"] / b["tps"]
        log(f"{database}: baseline B {b['tps']:,.0f} tps")
        result["met"] = (
            result["ratio_b"] >= TARGET_OF_B
            and (http["p99_ms"] or 1e9) <= TARGET_P99_MS
            and not http["errors"]
            and not http["exhausted"]
            and b["clean"]
        )
    return result


def measure_hello(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    (workdir / "hello_app.py").write_text(HELLO)
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(workdir), "hello_app:app"]
    argv += ["--port", str(port), "--workers", str(args.workers), "--no-access-log"]
    argv += ["--log-level", "warning"]
    base = f"http://127.0.0.1:{port}"
    server = start(argv, dict(os.environ), f"{base}/hello", workdir / "hello.log")
    try:
        queue: deque[tuple[str, dict[str, Any] | None]] = deque(
            ("/hello", None) for _ in range(500_000)
        )
        hello = asyncio.run(
            load(
                base,
                queue,
                method="GET",
                headers={},
                connections=args.connections,
                seconds=args.seconds,
                expect=200,
            )
        )
    finally:
        stop(server)
    log(f"hello world: {hello['per_second']:,.0f}/s")
    return {"database": "none (hello world)", "workers": args.workers, "http": hello}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, help="length of each timed run (default 15)")
    parser.add_argument("--connections", type=int, help="concurrent connections (default 32)")
    parser.add_argument("--workers", type=int, default=2, help="server processes on PostgreSQL")
    parser.add_argument("--vouchers", type=int, help="activated vouchers a run (default 60,000)")
    parser.add_argument("--customers", type=int, help="customers (default 1,000)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--smoke", action="store_true", help="1 s, 3,000 vouchers, 8 connections")
    args = parser.parse_args()
    for name, value in (SMOKE if args.smoke else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="vouchers-bench-http-") as tmp:
        workdir = Path(tmp)
        if args.only in (None, "postgresql"):
            pg: PostgresServer = benchmark_server()
            with pg, pg.temporary_database() as url:
                results.append(measure("postgresql", url, workdir / "home-p", workdir, args))
        if args.only in (None, "sqlite"):
            db = f"sqlite:///{workdir / 'http.db'}"
            results.append(measure("sqlite", db, workdir / "home-s", workdir, args))
        results.append(measure_hello(workdir, args))
    print_results(results, args)
    if args.check and not all(r.get("met", True) for r in results):
        sys.exit(1)


def print_results(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(json.dumps(results, indent=2, default=str))
    print()
    print(f"{args.connections} connections, {args.seconds:g} s a run")
    print("| run | server processes | requests/s | p50 | p99 | errors | target | met |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        h = r["http"]
        target = met = ""
        if "ratio_b" in r:
            target = f"≥ {TARGET_OF_B:.0%} of B, p99 ≤ {TARGET_P99_MS:g} ms"
            met = f"{r['ratio_b']:.0%} of B {'✔' if r['met'] else '✘'}"
        print(
            f"| {r['database']} | {r['workers']} | {h['per_second']:,.0f} | {h['p50_ms']:.1f} ms"
            f" | {h['p99_ms']:.1f} ms | {sum(h['errors'].values())} | {target} | {met} |"
        )
        if "baseline_b" in r:
            b = r["baseline_b"]
            print(
                f"| B: minimal transaction, pgbench | {args.connections} clients"
                f" | {b['tps']:,.0f} tps | avg {b['latency_ms']} ms | | {b['failed']} | | |"
            )


if __name__ == "__main__":
    main()
