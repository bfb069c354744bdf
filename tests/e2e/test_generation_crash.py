"""A generation killed with SIGKILL mid-run leaves a draft lot, and a worker finishes it.

This is the life-cycle issue's crash test, with real processes: ``vouchers lots generate``
is started, killed with ``kill -9`` once its first chunk has committed, and then
``vouchers worker --once`` must find the orphaned run, put it back in the queue and
continue the generation from the last committed chunk, on both databases.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from vouchers.bootstrap import bootstrap
from vouchers.config import Settings
from vouchers.domain.lots import LotState
from vouchers.domain.runs import RunStatus
from vouchers.services import lots, runs

COUNT = 400_000  # eight chunks: long enough to be killed in the middle


def vouchers_process(url: str, home: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERS_")}
    env["VOUCHERS_USER"] = "alice"
    return subprocess.Popen(
        [sys.executable, "-m", "vouchers", "--database-url", url, "--home", str(home), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def generated_count(url: str, lot: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            value = conn.execute(
                text("SELECT generated_count FROM lots WHERE alternative_code = :lot"),
                {"lot": lot},
            ).scalar()
    finally:
        engine.dispose()
    return int(value or 0)


def test_a_killed_generation_is_never_posted_half_done_and_a_worker_finishes_it(
    cli,  # type: ignore[no-untyped-def]
) -> None:
    cli.json(
        "types",
        "create",
        "--name",
        "Bulk",
        "--alternative-code",
        "BULK",
        "--currency",
        "EUR",
        "--value",
        "10.00",
    )
    lot = cli.json("lots", "create", "--type", "BULK", "--count", str(COUNT))["alternative_code"]

    generator = vouchers_process(cli.database_url, cli.home, "lots", "generate", lot)
    deadline = time.monotonic() + 120
    while generated_count(cli.database_url, lot) == 0:
        assert generator.poll() is None, generator.communicate()
        assert time.monotonic() < deadline, "the first chunk never committed"
        time.sleep(0.05)
    generator.send_signal(signal.SIGKILL)
    generator.wait()

    app = bootstrap(Settings.from_env({}, home=cli.home, database_url=cli.database_url), environ={})
    half = lots.get_lot(lot, uow=app.uow())
    assert half.state is LotState.DRAFT
    assert 0 < half.generated_count < COUNT
    (run,) = runs.list_runs(uow=app.uow())
    assert run.status is RunStatus.RUNNING  # orphaned: its worker is gone

    worker = vouchers_process(cli.database_url, cli.home, "worker", "--once")
    _, err = worker.communicate(timeout=300)
    assert worker.returncode == 0, err

    done = lots.get_lot(lot, uow=app.uow())
    assert done.state is LotState.POSTED
    assert done.generated_count == COUNT
    assert runs.get_run(run.id or 0, uow=app.uow()).status is RunStatus.COMPLETED
    with app.engine.connect() as conn:
        numbers = conn.execute(
            text(
                "SELECT count(*), min(number), max(number), count(DISTINCT lookup_digest) "
                "FROM vouchers WHERE lot_id = :lot"
            ),
            {"lot": done.id},
        ).one()
    assert tuple(numbers) == (COUNT, done.first_number, (done.first_number or 0) + COUNT - 1, COUNT)
    app.close()
