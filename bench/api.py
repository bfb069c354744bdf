"""Benchmark: redemptions per second over HTTP through ``vouchers serve``, against baseline B.

For PostgreSQL (a durable throwaway cluster, or ``VOUCHERS_BENCH_POSTGRES_URL``) and SQLite,
in a fresh database: the redemption benchmark's set-up (``bench/redeem.py``: a 50.00 EUR
type, one activated lot cut into ranges, customers with zero wallets), an integration API
key, then ``vouchers serve`` (``--workers``, embedded run worker off) in its own process
group. The load generator is wrk (Debian's package; C, one thread, ``--connections``
connections) with ``bench/wrk_requests.lua``, which sends each pre-built request once:
distinct codes with ``POST /api/v1/redemptions`` for ``--seconds``; requests/s, p50/p99
latency (wrk's histogram), errors (anything but 201). An earlier load generator in Python
(httpx on asyncio) took most of one of the two cores and starved the server.

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

import argparse
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

import redeem  # the redemption benchmark's set-up and baseline B (it puts tests/ on the path)
from support.postgres import PostgresServer, benchmark_server
from vouchers.bootstrap import bootstrap
from vouchers.config import Settings
from vouchers.services import access

_HERE = Path(__file__).resolve().parent
WRK_THREADS = 1  # one load-generator thread leaves the most CPU to the server
TARGET_OF_B = 0.25
TARGET_P99_MS = 50.0
SMOKE = {"seconds": 1.0, "vouchers": 8_000, "customers": 100, "connections": 8}
DEFAULTS = {"seconds": 15.0, "vouchers": 100_000, "customers": 1_000, "connections": 32}
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


def load(
    url: str,
    requests: Iterable[tuple[str, str, dict[str, Any] | None]],
    *,
    key: str | None,
    connections: int,
    seconds: float,
    expect: int,
    workdir: Path,
) -> dict[str, Any]:
    """wrk sends each request once over ``connections`` connections for ``seconds``."""
    request_file = workdir / "requests.tsv"
    with request_file.open("w") as out:
        for method, path, body in requests:
            line = f"{method}\t{path}"
            if body is not None:
                line += "\t" + json.dumps(body, separators=(",", ":"))
            out.write(line + "\n")
    argv = ["wrk", "-t", str(WRK_THREADS), "-c", str(connections), "-d", f"{seconds:g}s"]
    argv += ["--timeout", "30s", "-s", str(_HERE / "wrk_requests.lua"), url, "--"]
    argv += [str(request_file), str(expect), str(WRK_THREADS), key or ""]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    found = [line for line in done.stdout.splitlines() if line.startswith("WRK_JSON ")]
    if done.returncode != 0 or not found:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    summary: dict[str, Any] = json.loads(found[0].removeprefix("WRK_JSON "))
    if summary["socket_errors"]:
        summary["errors"]["socket"] = summary["socket_errors"]
    answered = summary["requests"] - summary["exhausted"]
    return {
        "requests": answered,
        "per_second": answered / summary["seconds"],
        "p50_ms": summary["p50_ms"],
        "p99_ms": summary["p99_ms"],
        "max_ms": summary["max_ms"],
        "errors": summary["errors"],
        "exhausted": summary["exhausted"] > 0,
    }


def group_cpu_seconds(pgid: int) -> float:
    """User and system CPU seconds used so far by the processes of one process group."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, …
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


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
        cpu_before = group_cpu_seconds(server.pid)
        http = load(
            base,
            (
                ("POST", "/api/v1/redemptions", {"code": data.codes[n], "customer": ref})
                for n, ref in zip(
                    data.ranges["http"], itertools.cycle(random.sample(data.refs, len(data.refs)))
                )
            ),
            key=key,
            connections=args.connections,
            seconds=args.seconds,
            expect=201,
            workdir=workdir,
        )
        http["server_cpu_ms"] = cpu_ms(group_cpu_seconds(server.pid) - cpu_before, http)
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


def cpu_ms(seconds: float, run: dict[str, Any]) -> float | None:
    """Server CPU milliseconds per answered request."""
    return seconds * 1000 / run["requests"] if run["requests"] else None


def measure_hello(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    (workdir / "hello_app.py").write_text(HELLO)
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(workdir), "hello_app:app"]
    argv += ["--port", str(port), "--workers", str(args.workers), "--no-access-log"]
    argv += ["--log-level", "warning"]
    base = f"http://127.0.0.1:{port}"
    server = start(argv, dict(os.environ), f"{base}/hello", workdir / "hello.log")
    try:
        cpu_before = group_cpu_seconds(server.pid)
        hello = load(
            base,
            (("GET", "/hello", None) for _ in range(int(args.seconds * 40_000))),
            key=None,
            connections=args.connections,
            seconds=args.seconds,
            expect=200,
            workdir=workdir,
        )
        hello["server_cpu_ms"] = cpu_ms(group_cpu_seconds(server.pid) - cpu_before, hello)
    finally:
        stop(server)
    log(f"hello world: {hello['per_second']:,.0f}/s")
    return {"database": "none (hello world)", "workers": args.workers, "http": hello}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, help="length of each timed run (default 15)")
    parser.add_argument("--connections", type=int, help="concurrent connections (default 32)")
    parser.add_argument("--workers", type=int, default=2, help="server processes on PostgreSQL")
    parser.add_argument("--vouchers", type=int, help="activated vouchers a run (default 100,000)")
    parser.add_argument("--customers", type=int, help="customers (default 1,000)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--smoke", action="store_true", help="1 s, 8,000 vouchers, 8 connections")
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
    print(
        "| run | server processes | requests/s | p50 | p99 | server CPU a request | errors"
        " | target | met |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        h = r["http"]
        target = met = ""
        if "ratio_b" in r:
            target = f"≥ {TARGET_OF_B:.0%} of B, p99 ≤ {TARGET_P99_MS:g} ms"
            met = f"{r['ratio_b']:.0%} of B {'✔' if r['met'] else '✘'}"
        print(
            f"| {r['database']} | {r['workers']} | {h['per_second']:,.0f} | {h['p50_ms']:.1f} ms"
            f" | {h['p99_ms']:.1f} ms | {h['server_cpu_ms'] or 0:.2f} ms"
            f" | {sum(h['errors'].values())} | {target} | {met} |"
        )
        if "baseline_b" in r:
            b = r["baseline_b"]
            print(
                f"| B: minimal transaction, pgbench | {args.connections} clients"
                f" | {b['tps']:,.0f} tps | avg {b['latency_ms']} ms | | | {b['failed']} | | |"
            )


if __name__ == "__main__":
    main()
