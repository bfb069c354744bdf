"""Process runs: every bulk process is requested as a run, executed now or when due.

``request_run`` records what is asked (validated at once, so a bad request never waits
in the queue); ``execute_run`` and ``run_due`` claim a run and carry it out as its
requester; ``recover_runs`` looks after runs whose worker died: a generation goes back to
the queue and continues where its last chunk ended, a one-transaction process is marked
completed if its history shows it committed and queued again otherwise. An export
(``services.exports``) waits for a second user's ``approve_run`` when the
``export_four_eyes`` setting is on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from vouchers.domain.lifecycle import Process, parse_states
from vouchers.domain.runs import ProcessRun, RunStatus
from vouchers.errors import ValidationError, VouchersError
from vouchers.services import exports, lots, processes
from vouchers.services.ports import Clock, CodeVault, ExportFiles, Progress, UnitOfWork

WorkerAlive = Callable[[str], bool | None]
"""Tells whether a worker (by its identity) still runs: True, False, or None (unknown)."""

STALE_AFTER = timedelta(minutes=5)
RUN_PROCESSES = frozenset(
    {
        Process.GENERATE,
        Process.ACCEPT,
        Process.REJECT,
        Process.ACTIVATE,
        Process.CANCEL,
        Process.PURGE,
        Process.EXPIRE,
        Process.MODIFY,
        Process.EXPORT,
    }
)
_SELECTION_KEYS = tuple(field.name for field in dataclasses.fields(processes.Selection))
_MODIFY_KEYS = ("type_ref", "effective_at", "expires_at")


@dataclass(frozen=True)
class RunContext:
    """What executing a run needs besides the unit of work."""

    clock: Clock
    vault: CodeVault
    worker: str
    four_eyes: bool = True
    executor: Executor | None = None
    progress: Progress | None = None  # besides the run's own record of progress
    files: ExportFiles | None = None  # where exports write their files
    environ: Mapping[str, str] = field(default_factory=dict)  # export passphrases


def request_run(
    process: Process,
    criteria: dict[str, Any],
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: str,
    scheduled_for: datetime | None = None,
) -> ProcessRun:
    """Queue a run of ``process``; raises ValidationError for a request it cannot run."""
    if process not in RUN_PROCESSES:
        raise ValidationError(f"{process} does not run as a process run")
    _validate(process, criteria)
    now = clock()
    if scheduled_for is not None and scheduled_for.utcoffset() is None:
        raise ValidationError("the scheduled time needs a time zone")
    with uow:
        awaiting = process is Process.EXPORT and exports.needs_approval(uow)
        run = ProcessRun(
            process=process.value,
            criteria=criteria,
            status=RunStatus.AWAITING if awaiting else RunStatus.SCHEDULED,
            scheduled_for=scheduled_for or now,
            requested_by=actor,
            requested_at=now,
        )
        saved = uow.runs.add(run)
        uow.commit()
    return saved


def approve_run(run_id: int, *, uow: UnitOfWork, clock: Clock, actor: str) -> ProcessRun:
    """Approve a run that awaits a second user (four-eyes); it is then scheduled as asked.

    Raises RunNotFoundError, InvalidTransitionError for a run not awaiting approval,
    FourEyesError when its requester approves it.
    """
    with uow:
        run = uow.runs.get(run_id)
        run.ensure_approvable(actor)
        uow.runs.update(run_id, status=RunStatus.SCHEDULED, approved_by=actor, approved_at=clock())
        uow.commit()
        return uow.runs.get(run_id)


def execute_run(
    run_id: int, *, uow: UnitOfWork, context: RunContext, reraise: bool = False
) -> ProcessRun:
    """Claim run ``run_id`` (if still scheduled) and carry it out; return how it ended.

    With ``reraise`` a refusal is recorded on the run and then raised to the caller (who
    asked for it to run now and wants the error itself).
    """
    with uow:
        run = uow.runs.claim(run_id, now=context.clock(), worker=context.worker)
        uow.commit()
    if run is None:
        return get_run(run_id, uow=uow)
    return _carry_out(run, uow=uow, context=context, reraise=reraise)


def run_due(*, uow: UnitOfWork, context: RunContext) -> ProcessRun | None:
    """Claim the most overdue scheduled run and carry it out; None when nothing is due."""
    with uow:
        run = uow.runs.claim(None, now=context.clock(), worker=context.worker)
        uow.commit()
    return None if run is None else _carry_out(run, uow=uow, context=context)


def recover_runs(
    *, uow: UnitOfWork, clock: Clock, alive: WorkerAlive, stale_after: timedelta = STALE_AFTER
) -> list[int]:
    """Settle running runs whose worker is gone; return their numbers."""
    now = clock()
    settled = []
    with uow:
        for run in uow.runs.running():
            verdict = alive(run.worker or "")
            beat = run.heartbeat_at or run.started_at or run.requested_at
            if verdict is True or (verdict is None and now - beat < stale_after):
                continue
            assert run.id is not None
            written = uow.runs.history_rows(run.id)
            if run.process != Process.GENERATE and written:
                uow.runs.update(
                    run.id, status=RunStatus.COMPLETED, count=written, done=written, finished_at=now
                )
            else:
                uow.runs.update(run.id, status=RunStatus.SCHEDULED, scheduled_for=now, worker=None)
            settled.append(run.id)
        uow.commit()
    return settled


def cancel_run(run_id: int, *, uow: UnitOfWork, clock: Clock) -> ProcessRun:
    """Cancel a run that no worker has claimed yet; raises InvalidTransitionError."""
    with uow:
        run = uow.runs.get(run_id)
        run.ensure_cancellable()
        uow.runs.update(run_id, status=RunStatus.CANCELLED, finished_at=clock())
        uow.commit()
        return uow.runs.get(run_id)


def get_run(run_id: int, *, uow: UnitOfWork) -> ProcessRun:
    """One run by number; raises RunNotFoundError."""
    with uow:
        return uow.runs.get(run_id)


def list_runs(*, uow: UnitOfWork, limit: int = 50, before: int | None = None) -> list[ProcessRun]:
    """The most recent runs, newest first; with ``before``, those numbered below it (the
    next page of a keyset walk)."""
    with uow:
        return uow.runs.recent(limit=limit, before=before)


# -- carrying a run out ----------------------------------------------------------------


def _carry_out(
    run: ProcessRun, *, uow: UnitOfWork, context: RunContext, reraise: bool = False
) -> ProcessRun:
    assert run.id is not None
    run_id = run.id
    try:
        count = _dispatch(run, uow=uow, context=context)
    except VouchersError as exc:
        _finish(uow, run_id, context.clock(), status=RunStatus.FAILED, error=exc.message)
        if reraise:
            raise
    except BaseException as exc:
        _finish(uow, run_id, context.clock(), status=RunStatus.FAILED, error=repr(exc))
        raise
    else:
        _finish(uow, run_id, context.clock(), status=RunStatus.COMPLETED, count=count)
    return get_run(run_id, uow=uow)


def _dispatch(run: ProcessRun, *, uow: UnitOfWork, context: RunContext) -> int:
    process = Process(run.process)
    criteria = run.criteria
    assert run.id is not None
    run_id = run.id
    if process is Process.GENERATE:

        def progress(done: int, total: int) -> None:
            with uow:
                uow.runs.update(run_id, done=done, total=total, heartbeat_at=context.clock())
                uow.commit()
            if context.progress is not None:
                context.progress(done, total)

        lot = lots.generate_lot(
            criteria["lot"],
            uow=uow,
            vault=context.vault,
            clock=context.clock,
            actor=run.requested_by,
            progress=progress,
            executor=context.executor,
        )
        return lot.count
    if process is Process.EXPORT:
        return exports.export_lot(
            run,
            uow=uow,
            vault=context.vault,
            clock=context.clock,
            files=context.files,
            environ=context.environ,
            progress=context.progress,
        )
    selection = selection_from(criteria)
    if process is Process.MODIFY:
        outcome = processes.modify_vouchers(
            selection,
            uow=uow,
            clock=context.clock,
            actor=run.requested_by,
            type_ref=criteria.get("type_ref"),
            effective_at=_moment(criteria.get("effective_at")),
            expires_at=_moment(criteria.get("expires_at")),
            run_id=run_id,
        )
    else:
        outcome = processes.run_process(
            process,
            selection,
            uow=uow,
            clock=context.clock,
            actor=run.requested_by,
            four_eyes=context.four_eyes,
            run_id=run_id,
        )
    return outcome.count


def _finish(uow: UnitOfWork, run_id: int, now: datetime, **values: Any) -> None:
    with uow:
        if values.get("count") is not None:
            values["done"] = values["count"]
        uow.runs.update(run_id, finished_at=now, heartbeat_at=now, **values)
        uow.commit()


def criteria_of(selection: processes.Selection, **extra: Any) -> dict[str, Any]:
    """A selection (and modify's extra fields) as a run's JSON criteria; the inverse of
    ``selection_from``. Times become ISO 8601 text; parts not given are left out."""
    values = {**dataclasses.asdict(selection), **extra}
    if selection.states is not None:
        values["states"] = sorted(selection.states)
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in values.items()
        if value is not None
    }


def selection_from(criteria: dict[str, Any]) -> processes.Selection:
    """The selection stored in a run's criteria."""
    parts = {key: criteria[key] for key in _SELECTION_KEYS if key in criteria}
    if "states" in parts:
        parts["states"] = parse_states(parts["states"])
    return processes.Selection(**parts)


def _validate(process: Process, criteria: dict[str, Any]) -> None:
    allowed = {"lot"} if process is Process.GENERATE else set(_SELECTION_KEYS)
    if process is Process.EXPORT:
        allowed = set(exports.CRITERIA_KEYS)
    if process is Process.MODIFY:
        allowed |= set(_MODIFY_KEYS)
    unknown = set(criteria) - allowed
    if unknown:
        raise ValidationError(f"{process} does not take " + ", ".join(sorted(unknown)))
    if process is Process.EXPORT:
        exports.ExportRequest.from_criteria(criteria)
        return
    if process is Process.GENERATE:
        if criteria.get("lot") is None:
            raise ValidationError("generate needs a lot")
        return
    processes.check_selection(process, selection_from(criteria))
    for key in ("effective_at", "expires_at"):
        _moment(criteria.get(key))


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(f"{text!r} is not an ISO 8601 time") from exc


def work(
    *,
    uow: UnitOfWork,
    context: RunContext,
    alive: WorkerAlive,
    should_stop: Callable[[], bool],
    sleep: Callable[[float], object],
    once: bool = False,
    poll_seconds: float = 5.0,
) -> int:
    """The worker loop: settle dead workers' runs, then carry out due runs until stopped.

    With ``once`` it returns when nothing is due. Returns how many runs it carried out.
    """
    carried = 0
    recover_runs(uow=uow, clock=context.clock, alive=alive)
    while not should_stop():
        if run_due(uow=uow, context=context) is not None:
            carried += 1
            continue
        if once:
            break
        sleep(poll_seconds)
        recover_runs(uow=uow, clock=context.clock, alive=alive)
    return carried
