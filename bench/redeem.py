"""Benchmark: redemptions per second through the service layer, against pgbench and raw SQL.

Set-up, not timed, in a fresh database: a stored-value voucher type (50.00 EUR), one lot
generated through the service layer as user "maker" and accepted and activated as
"checker" (four eyes), ``--customers`` customers with a zero EUR wallet each, and the
activated vouchers cut into contiguous ranges of ``--vouchers`` numbers, one per timed run,
so every run redeems distinct activated vouchers of the same data set.

PostgreSQL (a throwaway durable cluster, or the server in VOUCHERS_BENCH_POSTGRES_URL):

1. service: ``--threads`` threads call ``redeem_voucher`` (one shared CodeBook, codes in
   clear, a random customer each call) for ``--seconds``;
2. baseline A: the statements one redemption issues, captured from the service (two
   captured redemptions, diffed to tell per-redemption values from constants), replayed
   by ``pgbench -M prepared`` at ``--threads`` clients: each transaction takes the next
   voucher of A's range and a random customer;
3. baseline B: the minimal transaction (conditional voucher update, one journal insert,
   one wallet update) by pgbench the same way, on its own range.

Targets (redemption issue): service ≥ 60% of A and ≥ 40% of B.

SQLite (the product's connection settings): the service with 1 thread (target ≥ 1,500
redemptions/s) and with 4 threads, and the raw three-statement transaction on the driver
connection, 1 thread, each for ``--seconds`` on its own range of the same file.

After each service run: one redemption, journal entry, history row and used voucher per
successful call, two postings each, and ``verify_ledger`` ok (checked before baseline B,
which writes no postings). ``--profile`` adds a cProfile of a 1-thread run on each
database, the time per statement on PostgreSQL and pgbench's per-statement latencies of A.
Run: ``uv run python bench/redeem.py`` (``--seconds``, ``--threads``, ``--vouchers``,
``--customers``, ``--only``, ``--check``, ``--profile``, ``--smoke``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, insert, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.postgres import PostgresServer, benchmark_server, find_postgres_bin
from vouchers.adapters.db import schema
from vouchers.bootstrap import App, bootstrap
from vouchers.config import Settings
from vouchers.domain.customers import Customer
from vouchers.domain.lifecycle import Process
from vouchers.domain.money import currency
from vouchers.domain.redemptions import Channel
from vouchers.domain.voucher_types import VoucherType
from vouchers.services import lots, voucher_types
from vouchers.services.codebook import CodeBook
from vouchers.services.ledger import verify_ledger
from vouchers.services.processes import Selection, run_process
from vouchers.services.redemptions import RedemptionRequest, redeem_voucher

TARGET_A = 0.60  # service ≥ 60% of baseline A (PostgreSQL)
TARGET_B = 0.40  # service ≥ 40% of baseline B (PostgreSQL)
TARGET_SQLITE = 1_500  # redemptions/s, one process, one thread
SQLITE_THREADS = (1, 4)
MAKER, CHECKER, CASHIER = "maker", "checker", "api"
VALUE_MINOR, CURRENCY = 5000, "EUR"
CUSTOMER_REF_BASE = 100_000  # customer refs are numbers, so pgbench can compute them
CAPTURES = 2  # redemptions captured for baseline A
PGBENCH_THREADS = 2  # pgbench -j
SMOKE = {"seconds": 1.0, "vouchers": 5_000, "customers": 100}
DEFAULTS = {"seconds": 10.0, "vouchers": 100_000, "customers": 1_000}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- set-up ------------------------------------------------------------------------------


@dataclass
class DataSet:
    ranges: dict[str, range]  # run name -> voucher numbers reserved for it
    customers: list[tuple[int, str]]  # (id, external ref)
    codes: dict[int, str] = field(default_factory=dict)  # number -> code, service ranges

    @property
    def refs(self) -> list[str]:
        return [ref for _, ref in self.customers]


def set_up(app: App, sizes: dict[str, int], customers: int, clear: set[str]) -> DataSet:
    """Type, one activated lot cut into the ranges of ``sizes``, customers with wallets;
    the codes of the ranges named in ``clear``."""
    voucher_types.create_voucher_type(
        VoucherType(
            alternative_code="BENCH",
            name="Bench",
            currency=currency(CURRENCY),
            value_minor=VALUE_MINOR,
        ),
        uow=app.uow(),
        clock=app.clock,
        actor=MAKER,
    )
    total = sum(sizes.values())
    lot = lots.create_lot("BENCH", count=total, uow=app.uow(), clock=app.clock, actor=MAKER)
    with app.worker_pool() as pool:
        lots.generate_lot(
            lot.alternative_code,
            uow=app.uow(),
            vault=app.vault,
            clock=app.clock,
            actor=MAKER,
            executor=pool,
        )
    for process in (Process.ACCEPT, Process.ACTIVATE):
        run_process(
            process,
            Selection(lot=lot.alternative_code),
            uow=app.uow(),
            clock=app.clock,
            actor=CHECKER,
        )
    v = schema.vouchers
    with app.engine.connect() as conn:
        low, high, count, activated = conn.execute(
            text(
                "SELECT min(number), max(number), count(*),"
                " sum(CASE WHEN state = 'activated' THEN 1 ELSE 0 END) FROM vouchers"
            )
        ).one()
    if not (count == activated == total and high - low + 1 == total):
        raise SystemExit(f"set-up: {count} vouchers, {activated} activated, numbers {low}-{high}")
    ranges, start = {}, int(low)
    for name, size in sizes.items():
        ranges[name] = range(start, start + size)
        start += size

    now = app.clock()
    with app.uow() as uow:
        for i in range(1, customers + 1):
            uow.customers.add(
                Customer(external_ref=str(CUSTOMER_REF_BASE + i), created_at=now, created_by=MAKER)
            )
        uow.commit()
    c = schema.customers
    with app.engine.begin() as conn:
        found = [(int(i), str(r)) for i, r in conn.execute(select(c.c.id, c.c.external_ref))]
        # A zero wallet per customer: every redemption then updates a wallet (the steady
        # state), and baseline B has a row to update. Zero wallets agree with the ledger.
        conn.execute(
            insert(schema.wallets),
            [
                {"customer_id": i, "currency": CURRENCY, "paid_minor": 0, "bonus_minor": 0}
                for i, _ in found
            ],
        )
    found.sort()

    data = DataSet(ranges=ranges, customers=found)
    vault = app.vault
    with app.engine.connect() as conn:
        for name in clear:
            r = ranges[name]
            rows = conn.execute(
                select(v.c.number, v.c.ciphertext, v.c.data_key_id).where(
                    v.c.number >= r.start, v.c.number < r.stop
                )
            )
            for number, ciphertext, key_id in rows:
                data.codes[number] = vault.open(number, ciphertext, key_id)
    return data


def settle(engine: Engine) -> None:
    """Untimed: the same starting point before every timed run."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
            try:
                conn.execute(text("CHECKPOINT"))
            except Exception as exc:  # an external server may not let us; say so, go on
                log(f"  (no CHECKPOINT: {type(exc).__name__})")
    else:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.fetchall()
        finally:
            raw.close()


# -- the service -------------------------------------------------------------------------


def run_service(
    app: App,
    codes: list[str],
    refs: list[str],
    *,
    threads: int,
    seconds: float,
    codebook: CodeBook,
    profiler: cProfile.Profile | None = None,
) -> dict[str, Any]:
    """``threads`` threads redeem distinct codes for ``seconds``; figures and what redeemed.

    With ``profiler`` (one thread), the worker thread runs under it.
    """
    shares = [codes[i::threads] for i in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    redeemed: list[list[int]] = [[] for _ in range(threads)]
    ends = [0.0] * threads
    errors: Counter[str] = Counter()
    exhausted = [False] * threads
    ready = threading.Barrier(threads + 1)
    deadline = [0.0]

    def worker(i: int) -> None:
        rng = random.Random(i)
        mine, times, done = shares[i], latencies[i], redeemed[i]
        ready.wait()
        stop = deadline[0]
        if profiler is not None:
            profiler.enable()
        for code in mine:
            started = time.perf_counter()
            if started >= stop:
                break
            try:
                result = redeem_voucher(
                    RedemptionRequest(code=code, customer=rng.choice(refs), channel=Channel.API),
                    uow=app.uow(),
                    vault=app.vault,
                    clock=app.clock,
                    actor=CASHIER,
                    codebook=codebook,
                )
            except Exception as exc:
                errors[f"{type(exc).__name__}: {exc}"[:120]] += 1
                continue
            times.append(time.perf_counter() - started)
            done.append(result.voucher_number)
        else:
            exhausted[i] = True
        ends[i] = time.perf_counter()
        if profiler is not None:
            profiler.disable()

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    start, cpu = time.perf_counter(), time.process_time()
    deadline[0] = start + seconds
    ready.wait()
    for w in workers:
        w.join()
    elapsed = max(ends) - start
    cpu = time.process_time() - cpu
    every = sorted(t for times in latencies for t in times)
    numbers = [n for done in redeemed for n in done]
    return {
        "threads": threads,
        "redemptions": len(numbers),
        "seconds": elapsed,
        "per_second": len(numbers) / elapsed,
        "p50_ms": percentile(every, 0.50) * 1000,
        "p99_ms": percentile(every, 0.99) * 1000,
        # This process's CPU (all threads) per redemption: what the machine's load hides.
        "cpu_ms": cpu / max(1, len(numbers)) * 1000,
        "errors": dict(errors),
        "exhausted": any(exhausted),
        "numbers": numbers,
    }


def percentile(ordered: list[float], q: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def count_rows(engine: Engine, numbers: range) -> dict[str, int]:
    """What the redemptions of a range left behind, per table."""
    where = {"lo": numbers.start, "hi": numbers.stop - 1}
    queries = {
        "redemptions": "SELECT count(*) FROM redemptions WHERE voucher_number BETWEEN :lo AND :hi",
        "redeemed_vouchers": "SELECT count(DISTINCT voucher_number) FROM redemptions"
        " WHERE voucher_number BETWEEN :lo AND :hi AND status = 'completed'",
        "used_vouchers": "SELECT count(*) FROM vouchers"
        " WHERE number BETWEEN :lo AND :hi AND state = 'used'",
        "journal_entries": "SELECT count(*) FROM journal_entries j JOIN redemptions r"
        " ON j.redemption_id = r.id WHERE r.voucher_number BETWEEN :lo AND :hi",
        "postings": "SELECT count(*) FROM postings p JOIN journal_entries j ON p.entry_id = j.id"
        " JOIN redemptions r ON j.redemption_id = r.id WHERE r.voucher_number BETWEEN :lo AND :hi",
        "history_rows": "SELECT count(*) FROM voucher_history WHERE process = 'redeem'"
        " AND voucher_number BETWEEN :lo AND :hi",
    }
    with engine.connect() as conn:
        return {k: int(conn.execute(text(q), where).scalar_one()) for k, q in queries.items()}


def check_service(app: App, numbers: range, run: dict[str, Any]) -> dict[str, Any]:
    """Every successful call made exactly one redemption (and its rows); the ledger agrees."""
    done = run.pop("numbers")
    n = len(done)
    rows = count_rows(app.engine, numbers)
    distinct = len(set(done)) == n and all(x in numbers for x in done)
    expected = {k: 2 * n if k == "postings" else n for k in rows}
    ledger = verify_ledger(uow=app.uow()).ok
    return {
        "rows": rows,
        "exactly_once": distinct and rows == expected and not run["errors"],
        "ledger_ok": ledger,
    }


# -- PostgreSQL: capture one redemption, replay it with pgbench -----------------------------


@dataclass
class Statement:
    sql: str  # "<BEGIN>", "<COMMIT>", "<PING>" or the statement as sent
    params: Any = None
    many: bool = False
    returned: tuple[str, Any] | None = None  # (column, value) of a one-row RETURNING


@contextmanager
def capture(engine: Engine) -> Iterator[list[Statement]]:
    """Every statement the engine sends in the block, with BEGIN, COMMIT and pool pings."""
    seen: list[Statement] = []

    def before(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        seen.append(Statement(sql, params, many))

    def after(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
        result = getattr(cursor, "pgresult", None)  # psycopg: read without consuming rows
        if not many and result is not None and result.ntuples == 1 and result.nfields == 1:
            value = result.get_value(0, 0)
            if value is not None:
                seen[-1].returned = (result.fname(0).decode(), value.decode())

    def begin(conn: Any) -> None:
        seen.append(Statement("<BEGIN>"))

    def commit(conn: Any) -> None:
        seen.append(Statement("<COMMIT>"))

    def rollback(conn: Any) -> None:
        seen.append(Statement("<ROLLBACK>"))

    dialect = engine.dialect
    plain_ping = dialect.do_ping

    def ping(dbapi_connection: Any) -> bool:
        seen.append(Statement("<PING>"))
        return plain_ping(dbapi_connection)

    hooks = {
        "before_cursor_execute": before,
        "after_cursor_execute": after,
        "begin": begin,
        "commit": commit,
        "rollback": rollback,
    }
    for name, hook in hooks.items():
        event.listen(engine, name, hook)
    dialect.do_ping = ping  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del dialect.do_ping
        for name, hook in hooks.items():
            event.remove(engine, name, hook)


def capture_redemption(
    app: App, code: str, ref: str, customer_id: int, codebook: CodeBook
) -> tuple[list[Statement], dict[str, Any]]:
    """One redemption through the service, captured; with its per-redemption values."""
    with capture(app.engine) as seen:
        result = redeem_voucher(
            RedemptionRequest(code=code, customer=ref, channel=Channel.API),
            uow=app.uow(),
            vault=app.vault,
            clock=app.clock,
            actor=CASHIER,
            codebook=codebook,
        )
    roles = {"n": result.voucher_number, "cid": customer_id, "ref": ref}
    return seen, roles


def unwrap(value: Any) -> Any:
    """The Python value inside a driver wrapper (psycopg Binary, Json)."""
    inner = getattr(value, "obj", value)
    return bytes(inner) if isinstance(inner, memoryview | bytearray) else inner


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@dataclass
class Replay:
    """A pgbench script of one captured redemption, and the -D constants it needs."""

    script: str
    constants: dict[str, str]
    statements: list[str]  # the captured statements, one line each, for the report
    held_constant: list[str]  # per-redemption values replayed as the first capture's
    rebuilt: list[str]  # parameters embedding per-redemption values, rebuilt in SQL
    executed: int = 0  # statements executed (an executemany counts once)
    executions: int = 0  # statements on the wire (an executemany counts per row)


PARAM = re.compile(r"%\((\w+)\)s")


def build_replay(first: list[Statement], second: list[Statement], roles: list[dict]) -> Replay:
    """Turn two captured redemptions into one pgbench transaction.

    Parameters that differ between the captures and equal the same role in both (voucher
    number ``:n``, customer id ``:cid``, customer ref ``:ref``, an id an earlier
    ``RETURNING`` gave, most recent first) become that variable; the lookup digest becomes
    a subquery by number; timestamps become ``:at``; NULLs stay NULL; everything else is
    a constant passed with -D, as bound parameters under ``-M prepared``.
    """
    shapes = [[s.sql for s in first], [s.sql for s in second]]
    if shapes[0] != shapes[1]:
        raise SystemExit("baseline A: the two captured redemptions sent different statements")
    lines: list[str] = []
    constants: dict[str, str] = {}
    listing: list[str] = []
    held: list[str] = []
    returned: list[tuple[str, list[Any]]] = []  # (variable, value in each capture)
    rebuilt_params: list[str] = []

    def role_of(values: list[Any]) -> str | None:
        if values[0] == values[1]:
            return None
        for variable, got in reversed(returned):
            if [str(v) for v in values] == [str(g) for g in got]:
                return variable
        for name in ("n", "cid", "ref"):
            if [str(roles[0][name]), str(roles[1][name])] == [str(v) for v in values]:
                return name
        return None

    def template(variable: str, values: list[Any]) -> str | None:
        """A text that embeds per-redemption numbers (a memo, a JSON document), rebuilt
        in SQL by concatenation: ``(CAST(:c AS text) || CAST(:n AS text) || …)``."""
        pieces = [re.split(r"(\d+)", literal(v)) for v in values]
        if len(pieces[0]) != len(pieces[1]):
            return None
        parts: list[str] = []  # "'<literal>" or ":<variable>"
        for first_piece, second_piece in zip(*pieces, strict=True):
            if first_piece == second_piece:
                if parts and parts[-1].startswith("'"):
                    parts[-1] += first_piece
                else:
                    parts.append("'" + first_piece)
                continue
            role = role_of([first_piece, second_piece])
            if role is None:
                return None
            parts.append(":" + role)
        terms = []
        for k, part in enumerate(parts):
            if part == "'":
                continue  # an empty literal
            term = part
            if part.startswith("'"):
                constants[f"{variable}_{k}"] = part[1:]
                term = f":{variable}_{k}"
            terms.append(f"CAST({term} AS text)")
        return "(" + " || ".join(terms) + ")"

    def render(index: int, sql: str, params: list[dict[str, Any]]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            values = [unwrap(p[name]) for p in params]
            if values[0] is None:
                return "NULL"
            if isinstance(values[0], bytes):
                return "(SELECT lookup_digest FROM vouchers WHERE number = :n)"
            if isinstance(values[0], datetime):
                return ":at"
            role = role_of(values)
            if role is not None:
                return f":{role}"
            variable = f"s{index}_{name}"
            if values[0] != values[1]:
                rebuilt = template(variable, values)
                if rebuilt is not None:
                    rebuilt_params.append(name)
                    return rebuilt
                held.append(f"{name}={literal(values[0])!r}")
            constants[variable] = literal(values[0])
            return f":{variable}"

        return PARAM.sub(replace, " ".join(sql.split()))

    for index, (a, b) in enumerate(zip(first, second, strict=True)):
        if a.sql == "<PING>":
            ping = "SELECT 1"
            lines.append(f"{ping};")
            listing.append(f"{ping}  (pool pre-ping, autocommit)")
        elif a.sql == "<BEGIN>":
            lines.append("BEGIN;")
            listing.append("BEGIN")
        elif a.sql == "<COMMIT>":
            lines.append("COMMIT;")
            listing.append("COMMIT")
        elif a.sql == "<ROLLBACK>":
            lines.append("ROLLBACK;")
            listing.append("ROLLBACK")
        elif a.many:
            lines.append("\\startpipeline")
            for k, (pa, pb) in enumerate(zip(a.params, b.params, strict=True)):
                lines.append(render(index * 100 + k, a.sql, [pa, pb]) + ";")
            lines.append("\\endpipeline")
            listing.append(
                f"{' '.join(a.sql.split())}  (executemany, {len(a.params)} rows, pipelined)"
            )
        else:
            line = render(index, a.sql, [a.params, b.params])
            if a.returned is not None and b.returned is not None:
                column = a.returned[0]
                returned.append((f"r{index}_{column}", [a.returned[1], b.returned[1]]))
                line = f"{line} \\gset r{index}_"
            else:
                line += ";"
            lines.append(line)
            listing.append(" ".join(a.sql.split()))
    executed = [s for s in first if not s.sql.startswith("<")]
    executions = sum(len(s.params) if s.many else 1 for s in executed)
    return Replay(
        "\n".join(lines), constants, listing, held, rebuilt_params, len(executed), executions
    )


PREAMBLE = """\\set n :lo + :k * :clients + :client_id
\\set k :k + 1
\\if :n > :hi
SELECT 'voucher range exhausted: raise --vouchers'::int;
\\endif
\\set cid random(:cid_lo, :cid_hi)
\\set ref :cid + :ref_offset
"""

MINIMAL = """BEGIN;
UPDATE vouchers SET state = 'used', used_at = :at, used_by = :cid
 WHERE number = :n AND state = 'activated';
INSERT INTO journal_entries (kind, at, "by", memo, redemption_id, reference)
 VALUES ('redemption', :at, 'api', 'voucher', NULL, NULL);
UPDATE wallets SET paid_minor = paid_minor + 5000 WHERE customer_id = :cid AND currency = 'EUR';
COMMIT;
"""


def pgbench_binary() -> str:
    bin_dir = find_postgres_bin()
    if bin_dir is not None and (bin_dir / "pgbench").is_file():
        return str(bin_dir / "pgbench")
    found = shutil.which("pgbench")
    if found is None:
        raise SystemExit("pgbench not found (install the PostgreSQL client or server binaries)")
    return found


def run_pgbench(
    url: str,
    script: str,
    variables: dict[str, str],
    *,
    clients: int,
    seconds: float,
    workdir: Path,
    per_statement: bool = False,
) -> dict[str, Any]:
    """``pgbench -M prepared -n`` of ``script`` for ``seconds``; tps and what it reports."""
    path = workdir / f"pgbench-{time.monotonic_ns()}.sql"
    path.write_text(script + "\n")
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    argv = [
        pgbench_binary(),
        "-n",
        "-M",
        "prepared",
        "-c",
        str(clients),
        "-j",
        str(min(PGBENCH_THREADS, clients)),
        "-T",
        str(max(1, round(seconds))),
        "-f",
        str(path),
    ]
    if per_statement:
        argv.append("-r")
    for name, value in {**variables, "clients": str(clients), "k": "0"}.items():
        argv += ["-D", f"{name}={value}"]
    done = subprocess.run(
        [*argv, libpq], capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    out = done.stdout
    tps = re.search(r"^tps = ([\d.]+)", out, re.MULTILINE)
    processed = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    latency = re.search(r"latency average = ([\d.]+) ms", out)
    if tps is None or processed is None:
        raise SystemExit(f"pgbench failed ({done.returncode}):\n{out}\n{done.stderr}")
    return {
        "tps": float(tps.group(1)),
        "transactions": int(processed.group(1)),
        "failed": int(failed.group(1)) if failed else 0,
        "latency_ms": float(latency.group(1)) if latency else None,
        "clean": done.returncode == 0 and "aborted" not in done.stderr,
        "stderr": done.stderr.strip().splitlines()[-3:],
        "output": out,
    }


def range_variables(numbers: range, data: DataSet, at: datetime) -> dict[str, str]:
    ids = [i for i, _ in data.customers]
    offsets = {int(ref) - i for i, ref in data.customers}
    if len(offsets) != 1 or ids != list(range(ids[0], ids[-1] + 1)):
        raise SystemExit("customers: ids are not contiguous with numeric refs; cannot replay")
    return {
        "lo": str(numbers.start),
        "hi": str(numbers.stop - 1),
        "cid_lo": str(ids[0]),
        "cid_hi": str(ids[-1]),
        "ref_offset": str(offsets.pop()),
        "at": at.isoformat(),
    }


# -- the runs per database ---------------------------------------------------------------


def measure_postgresql(
    url: str, home: Path, workdir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    app = bootstrap(Settings.from_env({}, home=home, database_url=url, actor=MAKER), environ={})
    engine = app.engine
    pool = engine.pool
    pool_size = getattr(pool, "size", lambda: None)()
    overflow = getattr(pool, "_max_overflow", None)
    log(f"postgresql: pool size {pool_size} + overflow {overflow}, {args.threads} threads")
    try:
        sizes = {"service": args.vouchers, "A": args.vouchers, "B": args.vouchers}
        sizes["capture"] = CAPTURES
        if args.profile:
            sizes |= {"profile": args.vouchers, "profile A": args.vouchers}
        start = time.perf_counter()
        clear = {"service", "capture"} | ({"profile"} if args.profile else set())
        data = set_up(app, sizes, args.customers, clear)
        log(
            f"postgresql: set-up, {sum(sizes.values()):,} vouchers activated and"
            f" {args.customers:,} customers in {time.perf_counter() - start:.1f} s"
        )
        codebook = CodeBook()
        service_range = data.ranges["service"]

        settle(engine)
        service = run_service(
            app,
            [data.codes[n] for n in service_range],
            data.refs,
            threads=args.threads,
            seconds=args.seconds,
            codebook=codebook,
        )
        checks = check_service(app, service_range, service)
        log(f"postgresql: service {service['per_second']:,.0f}/s, checks {checks}")

        captured, roles = [], []
        for i, number in enumerate(data.ranges["capture"]):
            customer_id, ref = data.customers[-1 - i]
            seen, got = capture_redemption(app, data.codes[number], ref, customer_id, codebook)
            captured.append(seen)
            roles.append(got)
        replay = build_replay(captured[0], captured[1], roles)
        log("postgresql: baseline A script:\n" + replay.script)

        at = app.clock()
        settle(engine)
        a_range = data.ranges["A"]
        a = run_pgbench(
            url,
            PREAMBLE + replay.script,
            {**replay.constants, **range_variables(a_range, data, at)},
            clients=args.threads,
            seconds=args.seconds,
            workdir=workdir,
        )
        a_rows = count_rows(engine, a_range)
        a_ledger = verify_ledger(uow=app.uow()).ok
        a_faithful = (
            a["clean"]
            and a_rows["redemptions"] == a_rows["used_vouchers"] == a["transactions"]
            and a_rows["postings"] == 2 * a["transactions"]
            and a_ledger
        )
        log(f"postgresql: baseline A {a['tps']:,.0f} tps, rows {a_rows}, ledger {a_ledger}")

        settle(engine)
        b_range = data.ranges["B"]
        b = run_pgbench(
            url,
            PREAMBLE + MINIMAL,
            range_variables(b_range, data, at),
            clients=args.threads,
            seconds=args.seconds,
            workdir=workdir,
        )
        with engine.connect() as conn:
            b_used = int(
                conn.execute(
                    text(
                        "SELECT count(*) FROM vouchers WHERE number BETWEEN :lo AND :hi"
                        " AND state = 'used'"
                    ),
                    {"lo": b_range.start, "hi": b_range.stop - 1},
                ).scalar_one()
            )
        b_clean = b["clean"] and b_used == b["transactions"]
        log(f"postgresql: baseline B {b['tps']:,.0f} tps, {b_used:,} vouchers used")

        profile = None
        if args.profile:
            profile = profile_postgresql(app, data, replay, codebook, url, workdir, args)
        ratio_a = service["per_second"] / a["tps"]
        ratio_b = service["per_second"] / b["tps"]
        return {
            "database": "postgresql",
            "service": service,
            "checks": checks,
            "baseline_a": {k: v for k, v in a.items() if k != "output"} | {"rows": a_rows},
            "baseline_a_faithful": a_faithful,
            "baseline_b": {k: v for k, v in b.items() if k != "output"} | {"used": b_used},
            "baseline_b_clean": b_clean,
            "ratio_a": ratio_a,
            "ratio_b": ratio_b,
            "statements": replay.statements,
            "statement_counts": {
                "executed": replay.executed,
                "on_the_wire": replay.executions,
                "pre_ping": any(x.startswith("SELECT 1") for x in replay.statements),
            },
            "held_constant": replay.held_constant,
            "rebuilt_in_sql": replay.rebuilt,
            "pool": {"size": pool_size, "max_overflow": overflow},
            "profile": profile,
            "met": (
                ratio_a >= TARGET_A
                and ratio_b >= TARGET_B
                and checks["exactly_once"]
                and checks["ledger_ok"]
                and a_faithful
                and b_clean
                and not service["exhausted"]
            ),
        }
    finally:
        app.close()


def measure_sqlite(url: str, home: Path, args: argparse.Namespace) -> dict[str, Any]:
    app = bootstrap(Settings.from_env({}, home=home, database_url=url, actor=MAKER), environ={})
    engine = app.engine
    try:
        sizes = {f"service {t}": args.vouchers for t in SQLITE_THREADS} | {"raw": args.vouchers}
        if args.profile:
            sizes["profile"] = args.vouchers
        start = time.perf_counter()
        clear = {name for name in sizes if name != "raw"}
        data = set_up(app, sizes, args.customers, clear)
        log(
            f"sqlite: set-up, {sum(sizes.values()):,} vouchers activated and"
            f" {args.customers:,} customers in {time.perf_counter() - start:.1f} s"
        )
        codebook = CodeBook()
        runs = []
        for threads in SQLITE_THREADS:
            numbers = data.ranges[f"service {threads}"]
            settle(engine)
            run = run_service(
                app,
                [data.codes[n] for n in numbers],
                data.refs,
                threads=threads,
                seconds=args.seconds,
                codebook=codebook,
            )
            run["checks"] = check_service(app, numbers, run)
            log(f"sqlite: service, {threads} thread(s): {run['per_second']:,.0f}/s {run['checks']}")
            runs.append(run)
        if args.profile:
            numbers = data.ranges["profile"]
            settle(engine)
            profiler = cProfile.Profile()
            profiled = run_service(
                app,
                [data.codes[n] for n in numbers],
                data.refs,
                threads=1,
                seconds=args.seconds,
                codebook=codebook,
                profiler=profiler,
            )
            log("sqlite: cProfile of a 1-thread service run, top 25 by cumulative time")
            log(profile_text(profiler, profiled["redemptions"]))
        settle(engine)
        raw = run_raw_sqlite(engine, data.ranges["raw"], data, args.seconds)
        log(f"sqlite: raw three-statement transaction {raw['per_second']:,.0f}/s")
        one = runs[0]
        return {
            "database": "sqlite",
            "runs": runs,
            "raw": raw,
            "ratio_raw": one["per_second"] / raw["per_second"],
            "met": (
                one["per_second"] >= TARGET_SQLITE
                and all(r["checks"]["exactly_once"] and r["checks"]["ledger_ok"] for r in runs)
                and not any(r["exhausted"] for r in runs)
            ),
        }
    finally:
        app.close()


def run_raw_sqlite(engine: Engine, numbers: range, data: DataSet, seconds: float) -> dict[str, Any]:
    """Baseline B on SQLite: the three statements on the driver's connection (the product's
    pragmas: WAL, synchronous=FULL), BEGIN IMMEDIATE … COMMIT, one thread."""
    raw = engine.raw_connection()
    at = datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    ids = [i for i, _ in data.customers]
    rng = random.Random(0)
    done = 0
    try:
        cursor = raw.cursor()
        start = time.perf_counter()
        stop = start + seconds
        for number in numbers:
            if time.perf_counter() >= stop:
                break
            customer = rng.choice(ids)
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(
                "UPDATE vouchers SET state = 'used', used_at = ?, used_by = ?"
                " WHERE number = ? AND state = 'activated'",
                (at, customer, number),
            )
            cursor.execute(
                'INSERT INTO journal_entries (kind, at, "by", memo, redemption_id, reference)'
                " VALUES ('redemption', ?, 'api', 'voucher', NULL, NULL)",
                (at,),
            )
            cursor.execute(
                "UPDATE wallets SET paid_minor = paid_minor + 5000"
                " WHERE customer_id = ? AND currency = 'EUR'",
                (customer,),
            )
            cursor.execute("COMMIT")
            done += 1
        elapsed = time.perf_counter() - start
        cursor.close()
    finally:
        raw.close()
    return {"transactions": done, "seconds": elapsed, "per_second": done / elapsed}


# -- profiles ----------------------------------------------------------------------------


def profile_text(profiler: cProfile.Profile, redemptions: int) -> str:
    """Top 25 by cumulative time, then own time per redemption by layer."""
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("cumulative").print_stats(25)
    layers: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    for (path, _, name), (_, ncalls, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        layer = layer_of(path, name)
        layers[layer] += own
        calls[layer] += ncalls
    n = max(1, redemptions)
    stream.write(f"own time per redemption by layer ({redemptions:,} redemptions, profiled):\n")
    for layer, own in sorted(layers.items(), key=lambda item: -item[1]):
        stream.write(f"{own / n * 1000:9.3f} ms {calls[layer] / n:8.0f} calls  {layer}\n")
    return stream.getvalue()


def layer_of(path: str, name: str) -> str:
    if "sqlalchemy" in path:
        for part, label in (
            ("/sql/", "sqlalchemy.sql: building statements, coercion, cache keys"),
            ("/engine/", "sqlalchemy.engine: execute, parameters, results"),
        ):
            if part in path:
                return label
        return "sqlalchemy: events, pool, utilities"
    if "psycopg" in path:
        return "psycopg (Python side, including waiting for the server)"
    if path == "~":
        if "sqlite3" in name and ("commit" in name or "execute" in name):
            return "sqlite3: " + ("commit (WAL write + fsync)" if "commit" in name else "execute")
        return "builtins (isinstance, getattr, dict, hmac, ...)"
    if "/vouchers/" in path:
        return "vouchers: " + path.rsplit("/vouchers/", maxsplit=1)[-1].split("/", maxsplit=1)[0]
    return "standard library"


@contextmanager
def statement_timer(engine: Engine) -> Iterator[dict[str, list[float]]]:
    """Seconds per statement shape (first words) the engine runs in the block: each
    cursor.execute (driver work and round trip), the pool pre-ping and the COMMIT."""
    timings: dict[str, list[float]] = defaultdict(list)

    def before(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def after(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        timings[" ".join(sql.split())[:60]].append(
            time.perf_counter() - conn.info.pop("bench_started")
        )

    dialect = engine.dialect
    plain_ping, plain_commit = dialect.do_ping, dialect.do_commit

    def ping(dbapi_connection: Any) -> bool:
        started = time.perf_counter()
        try:
            return plain_ping(dbapi_connection)
        finally:
            timings["(pool pre-ping) SELECT 1"].append(time.perf_counter() - started)

    def commit(dbapi_connection: Any) -> None:
        started = time.perf_counter()
        try:
            plain_commit(dbapi_connection)
        finally:
            timings["COMMIT"].append(time.perf_counter() - started)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    dialect.do_ping = ping  # type: ignore[method-assign]
    dialect.do_commit = commit  # type: ignore[method-assign]
    try:
        yield timings
    finally:
        del dialect.do_ping, dialect.do_commit
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def profile_postgresql(
    app: App,
    data: DataSet,
    replay: Replay,
    codebook: CodeBook,
    url: str,
    workdir: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """1-thread service runs, one timing each statement, one under cProfile; A with -r."""
    codes = [data.codes[n] for n in data.ranges["profile"]]
    settle(app.engine)
    with statement_timer(app.engine) as timings:
        run = run_service(
            app,
            codes[: len(codes) // 2],
            data.refs,
            threads=1,
            seconds=args.seconds,
            codebook=codebook,
        )
    n = run["redemptions"]
    per_call_ms = run["seconds"] / n * 1000
    rows = sorted(timings.items(), key=lambda item: -sum(item[1]))
    sql_ms = sum(sum(t) for _, t in rows) / n * 1000
    lines = [
        f"postgresql: 1-thread service run, {n:,} redemptions, {per_call_ms:.2f} ms each"
        f" ({run['cpu_ms']:.2f} ms CPU), of which {sql_ms:.2f} ms in the driver calls below"
        " (psycopg and the round trip)",
        f"{'statement':<62}{'per call':>9}{'mean ms':>9}{'ms/call':>9}",
    ]
    for shape, times in rows:
        lines.append(
            f"{shape:<62}{len(times) / n:>9.2f}{sum(times) / len(times) * 1000:>9.3f}"
            f"{sum(times) / n * 1000:>9.3f}"
        )
    log("\n".join(lines))
    profiler = cProfile.Profile()
    profiled = run_service(
        app,
        codes[len(codes) // 2 :],
        data.refs,
        threads=1,
        seconds=args.seconds,
        codebook=codebook,
        profiler=profiler,
    )
    log("postgresql: cProfile of another 1-thread run, top 25 by cumulative time")
    log(profile_text(profiler, profiled["redemptions"]))
    a = run_pgbench(
        url,
        PREAMBLE + replay.script,
        {**replay.constants, **range_variables(data.ranges["profile A"], data, app.clock())},
        clients=args.threads,
        seconds=args.seconds,
        workdir=workdir,
        per_statement=True,
    )
    log("postgresql: baseline A with pgbench -r (per-statement latency, ms)")
    log(a["output"])
    return {
        "redemptions": n,
        "ms_per_call": per_call_ms,
        "cpu_ms_per_call": run["cpu_ms"],
        "ms_in_driver": sql_ms,
        "statements": {
            shape: {"per_call": len(t) / n, "mean_ms": sum(t) / len(t) * 1000} for shape, t in rows
        },
    }


# -- main --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, help="length of each timed run (default 10)")
    parser.add_argument("--threads", type=int, default=16, help="PostgreSQL threads and clients")
    parser.add_argument(
        "--vouchers", type=int, help="activated vouchers reserved per timed run (default 100,000)"
    )
    parser.add_argument("--customers", type=int, help="customers (default 1,000)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    parser.add_argument("--profile", action="store_true", help="also profile 1-thread runs")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="small and short: 1 s, 5,000 vouchers a run, 100 customers",
    )
    args = parser.parse_args()
    for name, value in (SMOKE if args.smoke else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, value)

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="vouchers-bench-") as tmp:
        workdir = Path(tmp)
        if args.only in (None, "sqlite"):
            db = workdir / "redeem.db"
            results.append(measure_sqlite(f"sqlite:///{db}", workdir / "home-s", args))
        if args.only in (None, "postgresql"):
            server: PostgresServer = benchmark_server()
            with server, server.temporary_database() as url:
                results.append(measure_postgresql(url, workdir / "home-p", workdir, args))
    print_results(results, args)
    if args.check and not all(r["met"] for r in results):
        sys.exit(1)


def print_results(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"{'database':<11}{'run':<46}{'clients':>8}{'per s':>9}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'CPU ms':>8}{'checks':>8}"
    )

    def row(db: str, name: str, clients: int, rate: float, *figures: str, ok: bool) -> None:
        cells = "".join(f"{f:>8}" for f in figures)
        print(f"{db:<11}{name:<46}{clients:>8}{rate:>9,.0f}{cells}{'ok' if ok else 'FAILED':>8}")

    def service(db: str, run: dict[str, Any], checks: dict[str, Any]) -> None:
        ok = checks["exactly_once"] and checks["ledger_ok"] and not run["exhausted"]
        p50, p99, cpu = (f"{run[k]:.2f}" for k in ("p50_ms", "p99_ms", "cpu_ms"))
        row(db, "service: redeem_voucher", run["threads"], run["per_second"], p50, p99, cpu, ok=ok)

    for r in results:
        if r["database"] == "sqlite":
            for run in r["runs"]:
                service("sqlite", run, run["checks"])
            raw = r["raw"]
            row(
                "sqlite",
                "raw: 3-statement transaction (sqlite3)",
                1,
                raw["per_second"],
                "",
                "",
                "",
                ok=True,
            )
            one = r["runs"][0]["per_second"]
            print(
                f"sqlite: 1 thread {one:,.0f}/s, target ≥ {TARGET_SQLITE:,}/s:"
                f" {'yes' if one >= TARGET_SQLITE else 'NO'};"
                f" {r['ratio_raw']:.0%} of the raw transaction"
            )
        else:
            a, b = r["baseline_a"], r["baseline_b"]
            service("postgresql", r["service"], r["checks"])
            for name, run, good in (
                ("A: replayed statements (pgbench -M prepared)", a, r["baseline_a_faithful"]),
                ("B: minimal transaction (pgbench -M prepared)", b, r["baseline_b_clean"]),
            ):
                latency = f"{run['latency_ms'] or 0:.2f}"
                row("postgresql", name, args.threads, run["tps"], latency, "", "", ok=good)
            counts = r["statement_counts"]
            print(
                f"postgresql: service/A {r['ratio_a']:.0%} (target ≥ {TARGET_A:.0%}:"
                f" {'yes' if r['ratio_a'] >= TARGET_A else 'NO'}),"
                f" service/B {r['ratio_b']:.0%} (target ≥ {TARGET_B:.0%}:"
                f" {'yes' if r['ratio_b'] >= TARGET_B else 'NO'});"
                f" a redemption runs {counts['executed']} statements"
                f" ({counts['on_the_wire']} on the wire) between BEGIN and COMMIT"
                + (", after a pool pre-ping" if counts["pre_ping"] else "")
            )
    print("(pgbench rows: the p50 column is pgbench's average latency; CPU ms: this process's")
    print(" CPU time, all threads, per redemption)")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
