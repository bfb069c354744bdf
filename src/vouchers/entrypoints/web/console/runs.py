"""Process runs: the list, one run's page with its live progress, the approval of an
export by a second finance user, cancelling a waiting run, and an export's file.

Every bulk action of the console (generate, accept, activate, export, …) is requested as a
run with ``services.runs.request_run``. "Execute now" then carries it out *after* the answer
is sent (a background task of this request): the browser is redirected at once to the
run's page, which polls its progress fragment every second with htmx and stops polling
when the run has finished. A refusal (four eyes, nothing in an addressed state) is recorded
on the run and shown there. A run scheduled for later waits for a worker (``vouchers
worker`` or the one embedded in ``vouchers serve``); a claim is one conditional update, so
a run is never carried out twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from vouchers.bootstrap import App, worker_identity
from vouchers.domain.access import Permission, Principal, authorize
from vouchers.domain.lifecycle import Process
from vouchers.domain.runs import ProcessRun, RunStatus
from vouchers.entrypoints.web.auth import FormPrincipal, PagePrincipal
from vouchers.entrypoints.web.console.forms import query_number
from vouchers.entrypoints.web.console.pages import (
    PREFIX,
    AppDep,
    ConsoleRoute,
    actor,
    allowed,
    not_found,
    render,
    see_other,
)
from vouchers.services import exports
from vouchers.services import runs as service

log = logging.getLogger("vouchers.console")
router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute)

PAGE = 50
POLL_AHEAD = timedelta(minutes=1)
FINISHED = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})


def run_context(app: App) -> service.RunContext:
    """What carrying out a run in this process needs (as the API's ``execute now``)."""
    return service.RunContext(
        clock=app.clock,
        vault=app.vault,
        worker=worker_identity(),
        four_eyes=app.settings.four_eyes,
        files=app.export_files(),
        environ=app.environ,
    )


def _carry_out(app: App, run_id: int) -> None:
    try:
        service.execute_run(run_id, uow=app.uow(), context=run_context(app))
    except Exception:  # recorded on the run as failed; the log says why
        log.exception("run %s failed", run_id)


def carry_out_if_due(app: App, run: ProcessRun, tasks: BackgroundTasks) -> None:
    """Carry ``run`` out after this request's answer, if it is scheduled and due."""
    if (
        run.id is not None
        and run.status is RunStatus.SCHEDULED
        and run.scheduled_for <= app.clock()
    ):
        tasks.add_task(_carry_out, app, run.id)


def start_run(
    app: App,
    process: Process,
    criteria: dict[str, Any],
    *,
    principal: Principal,
    scheduled_for: datetime | None,
    tasks: BackgroundTasks,
) -> ProcessRun:
    """Request a run as ``principal``; now (after the answer) unless scheduled for later.

    Raises ValidationError for a request that cannot run (nothing is stored then).
    """
    run = service.request_run(
        process,
        criteria,
        uow=app.uow(),
        clock=app.clock,
        actor=actor(principal),
        scheduled_for=scheduled_for,
    )
    if scheduled_for is None:
        carry_out_if_due(app, run, tasks)
    return run


def run_url(run: ProcessRun) -> str:
    return f"{PREFIX}/runs/{run.id}"


def _load(app: App, run_id: str) -> ProcessRun:
    number = query_number(run_id)
    if number is None:
        raise not_found(f"run {run_id[:20]}")
    return service.get_run(number, uow=app.uow())


def file_available(run: ProcessRun, now: datetime) -> bool:
    """Whether a finished export's file can still be downloaded."""
    return (
        run.process == Process.EXPORT.value
        and run.status is RunStatus.COMPLETED
        and run.result_file is not None
        and (run.file_expires_at is None or run.file_expires_at > now)
    )


def _run_context(app: App, run: ProcessRun, principal: Principal) -> dict[str, Any]:
    me = actor(principal)
    now = app.clock()
    awaiting = run.status is RunStatus.AWAITING
    return {
        "run": run,
        "finished": run.status in FINISHED,
        # Poll while it runs or is about to; a run scheduled for next week is not watched.
        "poll": run.status is RunStatus.RUNNING
        or (run.status is RunStatus.SCHEDULED and run.scheduled_for <= now + POLL_AHEAD),
        "percent": None if not run.total else min(100, round(100 * run.done / run.total)),
        "can_download": file_available(run, now) and allowed(principal, Permission.EXPORTS_REQUEST),
        "can_approve": awaiting
        and allowed(principal, Permission.EXPORTS_APPROVE)
        and run.requested_by != me,
        "own_request": awaiting and run.requested_by == me,
        "can_cancel": run.status in {RunStatus.SCHEDULED, RunStatus.AWAITING}
        and allowed(principal, Permission.RUNS_CANCEL),
    }


@router.get("/runs")
def list_runs(
    request: Request, app: AppDep, principal: PagePrincipal, before: str | None = None
) -> HTMLResponse:
    """Runs, newest first, a page at a time (keyset on the run number)."""
    authorize(principal, Permission.RUNS_READ)
    found = service.list_runs(uow=app.uow(), limit=PAGE + 1, before=query_number(before))
    page = found[:PAGE]
    more = len(found) > PAGE
    return render(
        request,
        "runs/list.html",
        {"runs": page, "next_before": page[-1].id if more and page else None, "first": not before},
    )


@router.get("/runs/{run_id}")
def show_run(request: Request, run_id: str, app: AppDep, principal: PagePrincipal) -> HTMLResponse:
    """One run: what was asked, by whom, its progress and result."""
    authorize(principal, Permission.RUNS_READ)
    run = _load(app, run_id)
    return render(request, "runs/show.html", _run_context(app, run, principal))


@router.get("/runs/{run_id}/progress")
def run_progress(
    request: Request, run_id: str, app: AppDep, principal: PagePrincipal
) -> HTMLResponse:
    """The status panel alone (htmx polls it while the run is unfinished)."""
    authorize(principal, Permission.RUNS_READ)
    run = _load(app, run_id)
    return render(request, "runs/progress.html", _run_context(app, run, principal))


@router.post("/runs/{run_id}/approve")
def approve_run(
    run_id: str, app: AppDep, principal: FormPrincipal, tasks: BackgroundTasks
) -> Response:
    """Approve an export awaiting a second finance user; a due run is then carried out."""
    authorize(principal, Permission.EXPORTS_APPROVE)
    run = _load(app, run_id)
    approved = service.approve_run(
        run.id or 0, uow=app.uow(), clock=app.clock, actor=actor(principal)
    )
    carry_out_if_due(app, approved, tasks)
    return see_other(run_url(approved), f"run {approved.id} approved")


@router.post("/runs/{run_id}/cancel")
def cancel_run(run_id: str, app: AppDep, principal: FormPrincipal) -> Response:
    """Cancel a run that still waits (scheduled, or awaiting approval)."""
    authorize(principal, Permission.RUNS_CANCEL)
    run = _load(app, run_id)
    cancelled = service.cancel_run(run.id or 0, uow=app.uow(), clock=app.clock)
    return see_other(run_url(cancelled), f"run {cancelled.id} cancelled")


@router.get("/runs/{run_id}/file")
def download_file(run_id: str, app: AppDep, principal: PagePrincipal) -> Response:
    """An export run's file (the checks and the ``export.downloaded`` event of
    ``GET /api/v1/runs/{id}/file``)."""
    authorize(principal, Permission.EXPORTS_REQUEST)
    run = _load(app, run_id)
    path = exports.export_file(run.id or 0, uow=app.uow(), clock=app.clock, actor=actor(principal))
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=path.rsplit("/", 1)[-1],
        headers={"Cache-Control": "no-store"},
    )
