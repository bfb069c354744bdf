"""Benchmark: generate and persist N vouchers in one lot, against the database's own ceiling.

For each database (SQLite file; a throwaway durable PostgreSQL cluster, or the server in
VOUCHERS_BENCH_POSTGRES_URL) this runs, in a fresh database:

1. generation through the service layer, exactly as ``vouchers lots generate`` does it
   (CSPRNG codes with check character, HMAC-SHA-256 digest, AES-256-GCM ciphertext),
   in a child process so its peak RSS is its own;
2. the ceiling: one server-side ``INSERT … SELECT`` of N rows into a table of the same
   shape and indexes as ``vouchers``, digest and ciphertext bytes made by the database
   (``sha256`` on PostgreSQL, ``randomblob`` on SQLite).

It prints wall time, codes per second, peak RSS and the ratio to the ceiling, against the
targets of the foundation issue (PostgreSQL ≤ 1.5×, SQLite ≤ 2.5×, RSS ≤ 300 MB, no
duplicate digests). Run: ``uv run python bench/generate.py`` (``--count``, ``--only``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import MetaData, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.postgres import DURABLE_SERVER_OPTIONS, PostgresServer
from vouchers.adapters.db import schema
from vouchers.adapters.db.engine import make_engine
from vouchers.bootstrap import bootstrap
from vouchers.config import Settings
from vouchers.domain.money import currency
from vouchers.domain.voucher_types import VoucherType
from vouchers.services import lots, voucher_types

TARGETS = {"sqlite": 2.5, "postgresql": 1.5}
RSS_TARGET_MB = 300


def run_generation(url: str, home: Path, count: int) -> dict[str, float]:
    """Child process: create a type and a lot, time its generation."""
    app = bootstrap(Settings.from_env({}, home=home, database_url=url, actor="bench"), environ={})
    voucher_types.create_voucher_type(
        VoucherType(
            alternative_code="BENCH", name="Bench", currency=currency("EUR"), value_minor=5000
        ),
        uow=app.uow(),
        clock=app.clock,
        actor="bench",
    )
    lot = lots.create_lot("BENCH", count=count, uow=app.uow(), clock=app.clock, actor="bench")
    start = time.perf_counter()
    with app.worker_pool() as pool:
        lots.generate_lot(
            lot.alternative_code, uow=app.uow(), vault=app.vault, clock=app.clock, executor=pool
        )
        seconds = time.perf_counter() - start
        helpers = descendants_peak_rss_mb()
    app.close()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # An upper bound: every process's own peak, added up as if they peaked together.
    return {"seconds": seconds, "rss_mb": own + helpers, "main_mb": own, "helpers_mb": helpers}


def descendants_peak_rss_mb() -> float:
    """Sum of the peak RSS (VmHWM) of every live descendant process (worker pool, fork server)."""
    parents: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue
        parents[int(fields["Pid"])] = int(fields["PPid"])
    ours, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - ours
        ours |= frontier
    total_kib = 0
    for pid in ours:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kib += int(line.split()[1])
        except OSError:
            continue
    return total_kib / 1024


def duplicate_digests(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        total, distinct = conn.execute(
            text("SELECT count(*), count(DISTINCT lookup_digest) FROM vouchers")
        ).one()
    engine.dispose()
    return int(total), int(total) - int(distinct)


def run_ceiling(url: str, count: int) -> float:
    """One INSERT … SELECT of ``count`` rows into a copy of the voucher table."""
    engine = make_engine(url)  # the same connection settings (SQLite pragmas) as the product
    meta = MetaData()
    for referenced in (schema.voucher_types, schema.lots):
        referenced.to_metadata(meta)
    ceiling = schema.vouchers.to_metadata(meta, name="vouchers_ceiling")
    for item in [*ceiling.indexes, *ceiling.constraints]:
        if isinstance(item.name, str):
            item.name = f"{item.name}_ceiling"
    ceiling.create(engine)
    now = datetime.now(UTC)
    if engine.dialect.name == "postgresql":
        statement = text(
            """
            INSERT INTO vouchers_ceiling (number, lot_id, type_id, state, value_minor,
                extra_value_minor, currency, effective_at, expires_at, lookup_digest,
                lookup_key_id, ciphertext, data_key_id, code_tail, created_at)
            SELECT i, 1, 1, 'draft', 5000, 0, 'EUR', :now, :later,
                   d, 1, sha256(int8send(-i)) || substr(d, 1, 13), 1,
                   lpad(to_hex(i % 65536), 4, '0'), :now
            FROM (SELECT i, sha256(int8send(i)) AS d FROM generate_series(1, :count) AS i) AS g
            """
        )
        params = {"now": now, "later": now.replace(year=now.year + 1), "count": count}
    else:
        statement = text(
            """
            WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :count)
            INSERT INTO vouchers_ceiling (number, lot_id, type_id, state, value_minor,
                extra_value_minor, currency, effective_at, expires_at, lookup_digest,
                lookup_key_id, ciphertext, data_key_id, code_tail, created_at)
            SELECT i, 1, 1, 'draft', 5000, 0, 'EUR', :now, :later,
                   randomblob(32), 1, randomblob(45), 1, substr(hex(randomblob(2)), 1, 4), :now
            FROM seq
            """
        )
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        later = now.replace(year=now.year + 1)
        params = {"now": now.strftime(fmt), "later": later.strftime(fmt), "count": count}
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(statement, params)
    seconds = time.perf_counter() - start
    engine.dispose()
    return seconds


def measure(name: str, url: str, count: int, workdir: Path) -> dict[str, object]:
    child = subprocess.run(
        [sys.executable, __file__, "--child", url, str(workdir / f"home-{name}"), str(count)],
        capture_output=True,
        text=True,
        check=False,
    )
    if child.returncode != 0:
        raise SystemExit(f"{name}: generation failed:\n{child.stderr}")
    generation = json.loads(child.stdout.strip().splitlines()[-1])
    total, duplicates = duplicate_digests(url)
    ceiling = run_ceiling(url, count)
    ratio = generation["seconds"] / ceiling
    return {
        "database": name,
        "count": count,
        "rows": total,
        "duplicate_digests": duplicates,
        "seconds": round(generation["seconds"], 2),
        "codes_per_second": round(count / generation["seconds"]),
        "peak_rss_mb": round(generation["rss_mb"], 1),
        "ceiling_seconds": round(ceiling, 2),
        "ratio": round(ratio, 2),
        "target_ratio": TARGETS[name],
        "met": ratio <= TARGETS[name]
        and generation["rss_mb"] <= RSS_TARGET_MB
        and duplicates == 0
        and total == count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, home, count = args.child
        print(json.dumps(run_generation(url, Path(home), int(count))))
        return

    results = []
    with tempfile.TemporaryDirectory(prefix="vouchers-bench-") as tmp:
        workdir = Path(tmp)
        if args.only in (None, "sqlite"):
            url = f"sqlite:///{workdir / 'bench.db'}"
            results.append(measure("sqlite", url, args.count, workdir))
        if args.only in (None, "postgresql"):
            external = os.environ.get("VOUCHERS_BENCH_POSTGRES_URL")
            server = (
                PostgresServer.external(external)
                if external
                else PostgresServer.start(options=DURABLE_SERVER_OPTIONS)
            )
            with server, server.temporary_database() as url:
                results.append(measure("postgresql", url, args.count, workdir))
    print_results(results)
    if not all(r["met"] for r in results):
        sys.exit(1)


def print_results(results: list[dict[str, object]]) -> None:
    print(
        f"{'database':<11}{'vouchers':>10}{'seconds':>9}{'codes/s':>10}{'peak RSS':>10}"
        f"{'ceiling s':>11}{'ratio':>7}{'target':>8}{'dups':>6}  met"
    )
    for r in results:
        print(
            f"{r['database']:<11}{r['count']:>10,}{r['seconds']:>9}{r['codes_per_second']:>10,}"
            f"{r['peak_rss_mb']:>8} MB{r['ceiling_seconds']:>11}{r['ratio']:>6}×"
            f"{r['target_ratio']:>7}×{r['duplicate_digests']:>6}  {'yes' if r['met'] else 'NO'}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
