"""Process runs on both databases: scheduling, the worker, cancellation, failures, recovery."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from support.factories import generate, make_type
from vouchers.bootstrap import App
from vouchers.domain.lifecycle import Process
from vouchers.domain.lots import LotState
from vouchers.domain.runs import RunStatus
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import InvalidTransitionError, ValidationError
from vouchers.services import lots, runs, vouchers
from vouchers.services.processes import Selection, run_process

NEVER_STOP = lambda: False  # noqa: E731


def context(app: App, worker: str = "test:1") -> runs.RunContext:
    return runs.RunContext(clock=app.clock, vault=app.vault, worker=worker)


def states_of(app: App, lot: str) -> set[VoucherState]:
    page = vouchers.list_vouchers(uow=app.uow(), clock=app.clock, lot_ref=lot, limit=1000)
    return {view.state for view in page}


def test_a_scheduled_run_waits_for_its_time_and_the_worker_then_carries_it_out(
    app: App,
) -> None:
    make_type(app)
    lot = generate(app, "PREM", 20)
    later = app.clock() + timedelta(hours=1)
    run = runs.request_run(
        Process.ACCEPT,
        {"lot": lot},
        uow=app.uow(),
        clock=app.clock,
        actor="bob",
        scheduled_for=later,
    )
    assert run.status is RunStatus.SCHEDULED

    assert runs.run_due(uow=app.uow(), context=context(app)) is None
    assert states_of(app, lot) == {VoucherState.DRAFT}

    app.clock = lambda: later
    done = runs.run_due(uow=app.uow(), context=context(app))
    assert done is not None
    assert done.status is RunStatus.COMPLETED
    assert done.count == 20
    assert done.requested_by == "bob"
    assert states_of(app, lot) == {VoucherState.ACCEPTED}
    history = vouchers.voucher_history(1, uow=app.uow())
    assert history[-1].run_id == run.id
    assert history[-1].by == "bob"


def test_the_worker_loop_carries_out_every_due_run_in_order(app: App) -> None:
    make_type(app)
    lot = generate(app, "PREM", 5)
    for process in (Process.ACCEPT, Process.ACTIVATE):
        runs.request_run(process, {"lot": lot}, uow=app.uow(), clock=app.clock, actor="bob")

    carried = runs.work(
        uow=app.uow(),
        context=context(app),
        alive=lambda w: None,
        should_stop=NEVER_STOP,
        sleep=lambda s: None,
        once=True,
    )

    assert carried == 2
    assert states_of(app, lot) == {VoucherState.ACTIVATED}


def test_a_run_that_the_rules_refuse_ends_failed_with_the_reason_and_changes_nothing(
    app: App,
) -> None:
    make_type(app)
    lot = generate(app, "PREM", 5)
    run = runs.request_run(
        Process.ACCEPT, {"lot": lot}, uow=app.uow(), clock=app.clock, actor="alice"
    )  # alice generated the lot: four-eyes refuses

    done = runs.execute_run(run.id or 0, uow=app.uow(), context=context(app))

    assert done.status is RunStatus.FAILED
    assert "another user" in (done.error or "")
    assert states_of(app, lot) == {VoucherState.DRAFT}


def test_a_bad_request_is_refused_before_it_is_queued(app: App) -> None:
    with pytest.raises(ValidationError):
        runs.request_run(Process.ACTIVATE, {}, uow=app.uow(), clock=app.clock, actor="bob")
    with pytest.raises(ValidationError):
        runs.request_run(
            Process.ACCEPT, {"voucher_type": "PREM"}, uow=app.uow(), clock=app.clock, actor="b"
        )
    assert runs.list_runs(uow=app.uow()) == []


def test_only_a_scheduled_run_can_be_cancelled(app: App) -> None:
    make_type(app)
    lot = generate(app, "PREM", 3)
    later = app.clock() + timedelta(days=1)
    run = runs.request_run(
        Process.ACCEPT,
        {"lot": lot},
        uow=app.uow(),
        clock=app.clock,
        actor="bob",
        scheduled_for=later,
    )
    cancelled = runs.cancel_run(run.id or 0, uow=app.uow(), clock=app.clock)
    assert cancelled.status is RunStatus.CANCELLED
    app.clock = lambda: later
    assert runs.run_due(uow=app.uow(), context=context(app)) is None
    with pytest.raises(InvalidTransitionError, match="cancelled"):
        runs.cancel_run(run.id or 0, uow=app.uow(), clock=app.clock)


def test_a_generation_whose_worker_died_goes_back_to_the_queue_and_resumes(app: App) -> None:
    make_type(app)
    lot = lots.create_lot("PREM", count=90, uow=app.uow(), clock=app.clock, actor="alice")
    run = runs.request_run(
        Process.GENERATE,
        {"lot": lot.alternative_code},
        uow=app.uow(),
        clock=app.clock,
        actor="alice",
    )
    with app.uow() as uow:  # a worker claims it, writes one chunk, and dies
        uow.runs.claim(run.id, now=app.clock(), worker="dead-host:1")
        uow.commit()
    with pytest.raises(KeyboardInterrupt):
        lots.generate_lot(
            lot.alternative_code,
            uow=app.uow(),
            vault=app.vault,
            clock=app.clock,
            actor="alice",
            chunk_size=40,
            progress=lambda done, total: (_ for _ in ()).throw(KeyboardInterrupt()),
        )
    assert lots.get_lot(lot.alternative_code, uow=app.uow()).state is LotState.DRAFT

    settled = runs.recover_runs(uow=app.uow(), clock=app.clock, alive=lambda w: False)
    assert settled == [run.id]
    done = runs.run_due(uow=app.uow(), context=context(app))

    assert done is not None
    assert done.status is RunStatus.COMPLETED
    finished = lots.get_lot(lot.alternative_code, uow=app.uow())
    assert finished.state is LotState.POSTED
    assert finished.generated_count == 90


def test_a_one_transaction_run_that_committed_before_its_worker_died_is_completed(
    app: App,
) -> None:
    make_type(app)
    lot = generate(app, "PREM", 4)
    run = runs.request_run(Process.ACCEPT, {"lot": lot}, uow=app.uow(), clock=app.clock, actor="b")
    with app.uow() as uow:
        uow.runs.claim(run.id, now=app.clock(), worker="dead-host:1")
        uow.commit()
    run_process(
        Process.ACCEPT,
        Selection(lot=lot),
        uow=app.uow(),
        clock=app.clock,
        actor="b",
        run_id=run.id,
    )  # committed, then the worker died before recording the outcome

    runs.recover_runs(uow=app.uow(), clock=app.clock, alive=lambda w: False)

    settled = runs.get_run(run.id or 0, uow=app.uow())
    assert settled.status is RunStatus.COMPLETED
    assert settled.count == 4


def test_a_live_or_recently_seen_worker_keeps_its_run(app: App) -> None:
    make_type(app)
    lot = generate(app, "PREM", 4)
    run = runs.request_run(Process.ACCEPT, {"lot": lot}, uow=app.uow(), clock=app.clock, actor="b")
    with app.uow() as uow:
        uow.runs.claim(run.id, now=app.clock(), worker="elsewhere:7")
        uow.commit()
    assert runs.recover_runs(uow=app.uow(), clock=app.clock, alive=lambda w: True) == []
    assert runs.recover_runs(uow=app.uow(), clock=app.clock, alive=lambda w: None) == []


def test_two_workers_never_claim_the_same_run(app: App) -> None:
    make_type(app)
    lot = generate(app, "PREM", 2)
    for _ in range(6):
        runs.request_run(Process.EXPIRE, {"lot": lot}, uow=app.uow(), clock=app.clock, actor="b")
    claimed: list[int] = []
    lock = threading.Lock()

    def claim_all(worker: str) -> None:
        while True:
            with app.uow() as uow:
                run = uow.runs.claim(None, now=app.clock(), worker=worker)
                uow.commit()
            if run is None:
                return
            with lock:
                claimed.append(run.id or 0)

    threads = [threading.Thread(target=claim_all, args=(f"w:{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 6
