"""Benchmark: export N activated vouchers of one lot, against COPY … TO of the same rows.

For each database (a throwaway durable PostgreSQL cluster, or the server in
VOUCHERS_BENCH_POSTGRES_URL; SQLite with ``--only sqlite`` or by default) this, in a
fresh database:

1. generates one lot of N vouchers through the service layer (and, for PDF, a second lot
   of 1,000), activates them with one ``UPDATE`` and vacuums the table as autovacuum would
   have before an export (the set-up, not measured);
2. runs an export through the service layer exactly as ``vouchers export`` and ``vouchers
   runs approve`` do (every secret decrypted and checked against its digest, the file
   streamed, the run's number ranges recorded) for each format, each in a child process
   so its peak memory is its own;
3. the baseline (PostgreSQL): ``COPY (SELECT … the same rows and columns …) TO STDOUT``
   into a file, without decryption, in the same run.

It prints wall time, rows per second, peak memory (the export process's peak resident set
size, and its proportional set size with any children sampled every 50 ms, as in
bench/generate.py), the load average around each export (the machine may be shared) and
the ratio to the baseline, against the targets of issue #6: CSV on PostgreSQL at most 15 s
and 300 MB for a million vouchers, PDF sheets for 1,000 vouchers at most 15 s; XLSX and
XML are reported. Run: ``uv run python bench/export.py`` (``--count``, ``--formats``,
``--only``, ``--check``); ``--smoke`` is a quick 2,000-voucher pass.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import update

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import MemorySampler
from support.postgres import benchmark_server
from vouchers.adapters.db import schema
from vouchers.bootstrap import bootstrap
from vouchers.config import Settings
from vouchers.domain.exports import ExportFormat
from vouchers.domain.lifecycle import Process
from vouchers.domain.money import currency
from vouchers.domain.voucher_types import VoucherType
from vouchers.services import lots, runs, settings, voucher_types
from vouchers.services.exports import ExportRequest

CSV_SECONDS_TARGET = 15.0  # for 1,000,000 vouchers on PostgreSQL
RSS_TARGET_MB = 300
FULL_COUNT = 1_000_000
PDF_COUNT = 1_000  # PDF sheets: their own lot, at most 15 s
PDF_SECONDS_TARGET = 15.0


def _app(url: str, home: Path):  # type: ignore[no-untyped-def]
    return bootstrap(Settings.from_env({}, home=home, database_url=url, actor="bench"), environ={})


def set_up(url: str, home: Path, count: int, *, pdf: bool) -> dict[str, str]:
    """A lot of ``count`` activated vouchers (and one of PDF_COUNT for PDF sheets); the
    lot to export for each format."""
    app = _app(url, home)
    voucher_types.create_voucher_type(
        VoucherType(
            alternative_code="BENCH", name="Bench", currency=currency("EUR"), value_minor=5000
        ),
        uow=app.uow(),
        clock=app.clock,
        actor="bench",
    )
    made = []
    for size in (count, PDF_COUNT) if pdf else (count,):
        lot = lots.create_lot("BENCH", count=size, uow=app.uow(), clock=app.clock, actor="bench")
        with app.worker_pool() as pool:
            lots.generate_lot(
                lot.alternative_code,
                uow=app.uow(),
                vault=app.vault,
                clock=app.clock,
                actor="bench",
                executor=pool,
            )
        made.append(lot.alternative_code)
    with app.engine.begin() as connection:
        connection.execute(update(schema.vouchers).values(state="activated"))
    # A lot is exported some time after it is activated: by then autovacuum has cleared
    # the row versions the UPDATE left behind. Do it now, not during the first export.
    if app.engine.dialect.name == "postgresql":
        with app.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as vacuum:
            vacuum.exec_driver_sql("VACUUM (ANALYZE) vouchers")
    settings.set_setting("export_four_eyes", "off", uow=app.uow(), clock=app.clock, actor="bench")
    app.close()
    return {"main": made[0], "pdf": made[-1]}


def run_export(url: str, home: Path, lot: str, fmt: str) -> dict[str, float]:
    """Child process: one export run of ``lot`` in ``fmt``, timed and sampled."""
    app = _app(url, home)
    criteria = ExportRequest(lot, ExportFormat(fmt)).as_criteria()
    sampler = MemorySampler()
    start = time.perf_counter()
    with sampler:
        run = runs.request_run(
            Process.EXPORT, criteria, uow=app.uow(), clock=app.clock, actor="bench"
        )
        done = runs.execute_run(
            run.id or 0,
            uow=app.uow(),
            context=runs.RunContext(
                clock=app.clock, vault=app.vault, worker="bench", files=app.export_files()
            ),
            reraise=True,
        )
        seconds = time.perf_counter() - start
    app.close()
    size = Path(done.result_file or "").stat().st_size
    Path(done.result_file or "").unlink()
    max_rss_mb = _peak_rss_kib() / 1024
    return {
        "seconds": seconds,
        "rss_mb": max(max_rss_mb, sampler.peak_mb),
        "pss_mb": sampler.peak_mb,
        "rows": done.count or 0,
        "bytes": size,
    }


def _peak_rss_kib() -> int:
    """This process's peak resident set size (VmHWM: unlike ru_maxrss, it does not carry
    the parent's peak over the exec that started this child)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def run_baseline(url: str, target: Path, lot: str) -> float:
    """COPY of the same rows and columns (secrets still sealed) to a file."""
    import psycopg  # noqa: PLC0415

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    query = (
        "COPY (SELECT v.number, v.ciphertext, v.lookup_digest, v.value_minor,"
        " v.extra_value_minor, v.currency, v.effective_at, v.expires_at, l.alternative_code,"
        " t.alternative_code FROM vouchers v JOIN lots l ON l.id = v.lot_id"
        " JOIN voucher_types t ON t.id = v.type_id WHERE v.state = 'activated'"
        f" AND l.alternative_code = '{lot}' ORDER BY v.number) TO STDOUT (FORMAT csv, HEADER)"
    )
    start = time.perf_counter()
    with (
        psycopg.connect(dsn) as conn,
        conn.cursor() as cur,
        target.open("wb") as out,
        cur.copy(query) as copy,
    ):
        for block in copy:
            out.write(block)
    seconds = time.perf_counter() - start
    target.unlink()
    return seconds


def child(url: str, home: Path, lot: str, fmt: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", url, str(home), lot, fmt],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"export {fmt} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(name: str, url: str, home: Path, count: int, formats: list[str]) -> list[dict]:  # type: ignore[type-arg]
    start = time.perf_counter()
    lot = set_up(url, home, count, pdf="pdf" in formats)
    print(
        f"{name}: set up {count:,} activated vouchers in {time.perf_counter() - start:.1f} s",
        flush=True,
    )
    baseline = None
    if name == "postgresql":
        baseline = run_baseline(url, home / "baseline.csv", lot["main"])
        print(f"{name}: COPY baseline in {baseline:.2f} s", flush=True)
    results = []
    for fmt in formats:
        size = PDF_COUNT if fmt == "pdf" else count
        load_before = os.getloadavg()[0]
        figures = child(url, home, lot["pdf" if fmt == "pdf" else "main"], fmt)
        load = (load_before + os.getloadavg()[0]) / 2
        seconds = figures["seconds"]
        print(
            f"{name}: {fmt} in {seconds:.2f} s, peak {figures['rss_mb']:.1f} MB (load {load:.1f})",
            flush=True,
        )
        met = None
        if fmt == "pdf":
            target = PDF_SECONDS_TARGET
            met = seconds <= target
        else:
            target = CSV_SECONDS_TARGET * count / FULL_COUNT
            # Fixed costs dominate small runs; the target is judged from 100,000 vouchers up.
            if name == "postgresql" and fmt == "csv" and count >= 100_000:
                met = seconds <= target and figures["rss_mb"] <= RSS_TARGET_MB
        results.append(
            {
                "database": name,
                "format": fmt,
                "count": size,
                "rows": int(figures["rows"]),
                "seconds": round(seconds, 2),
                "rows_per_second": round(size / seconds),
                "peak_rss_mb": round(figures["rss_mb"], 1),
                "peak_pss_mb": round(figures["pss_mb"], 1),
                "file_mb": round(figures["bytes"] / 2**20, 1),
                "load": round(load, 1),
                "baseline_seconds": None if baseline is None else round(baseline, 2),
                "ratio": None if baseline is None or fmt == "pdf" else round(seconds / baseline, 2),
                "target_seconds": round(target, 2) if met is not None else None,
                "met": met,
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=FULL_COUNT)
    parser.add_argument("--formats", default="csv,xlsx,xml,pdf")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--smoke", action="store_true", help="2,000 vouchers, a quick check")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, home, lot, fmt = args.child
        print(json.dumps(run_export(url, Path(home), lot, fmt)))
        return
    count = 2_000 if args.smoke else args.count
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    results: list[dict] = []  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory(prefix="vouchers-bench-export-") as tmp:
        workdir = Path(tmp)
        if args.only in (None, "postgresql"):
            with benchmark_server() as server, server.temporary_database() as url:
                results += measure("postgresql", url, workdir / "home-p", count, formats)
        if args.only in (None, "sqlite"):
            url = f"sqlite:///{workdir / 'bench.db'}"
            results += measure("sqlite", url, workdir / "home-s", count, formats)
    print_results(results)
    if args.check and any(r["met"] is False for r in results):
        sys.exit(1)


def print_results(results: list[dict]) -> None:  # type: ignore[type-arg]
    print(
        f"{'database':<11}{'format':<7}{'vouchers':>10}{'seconds':>9}{'rows/s':>10}"
        f"{'peak RSS':>10}{'file':>9}{'load':>6}{'COPY s':>8}{'ratio':>7}  met"
    )
    for r in results:
        met = {True: "yes", False: "NO", None: "-"}[r["met"]]
        print(
            f"{r['database']:<11}{r['format']:<7}{r['count']:>10,}{r['seconds']:>9}"
            f"{r['rows_per_second']:>10,}{r['peak_rss_mb']:>7} MB{r['file_mb']:>6} MB"
            f"{r['load']:>6}{r['baseline_seconds'] or '-':>8}{r['ratio'] or '-':>7}  {met}"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
