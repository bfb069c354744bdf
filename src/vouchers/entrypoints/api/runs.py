"""Bulk processes as process runs: activations, cancellations, purges, expirations and
exports, carried out now or queued for ``scheduled_for``; the runs themselves (list, show,
cancel), the second finance user's approval of an export, and the export file.

A run carried out now answers 200 with the finished run (a refusal is the run's error as a
problem document: the run is kept, marked failed); a queued run, or an export waiting for
approval, answers 202.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import FileResponse

from vouchers.bootstrap import App, worker_identity
from vouchers.domain.access import Permission, Principal
from vouchers.domain.exports import Encryption, EncryptionKind, parse_format, parse_recipients
from vouchers.domain.lifecycle import Process, parse_states
from vouchers.domain.runs import ProcessRun, RunStatus
from vouchers.entrypoints.api.deps import AppDep, actor_name, require
from vouchers.entrypoints.api.schemas_catalogue import (
    BulkSelection,
    CancellationCreate,
    ExportCreate,
    PurgeCreate,
    RunPublic,
    parse_ref,
)
from vouchers.errors import ValidationError
from vouchers.services import exports
from vouchers.services import runs as service
from vouchers.services.exports import ExportRequest
from vouchers.services.processes import Selection

router = APIRouter(tags=["process runs"])

RunId = Annotated[int, Path(ge=1, le=2**62, description="The run number.")]


def submit(
    app: App,
    process: Process,
    criteria: dict[str, Any],
    *,
    principal: Principal,
    scheduled_for: datetime | None,
    response: Response,
) -> RunPublic:
    """Request a run as ``principal``; carry it out now unless it is scheduled for later
    (or waits for approval). Raises the run's error when carrying it out is refused."""
    run = service.request_run(
        process,
        criteria,
        uow=app.uow(),
        clock=app.clock,
        actor=actor_name(principal),
        scheduled_for=scheduled_for,
    )
    if scheduled_for is None and run.status is RunStatus.SCHEDULED:
        run = _execute(app, run)
    return _answer(run, response)


def selection_criteria(body: BulkSelection, **parts: Any) -> dict[str, Any]:
    """A bulk selection as a run's criteria."""
    selection = Selection(
        lot=None if body.lot is None else parse_ref(body.lot),
        voucher_type=None if body.type is None else parse_ref(body.type),
        number_from=body.number_from,
        number_to=body.number_to,
        **parts,
    )
    return service.criteria_of(selection)


@router.post("/activations", status_code=200)
def create_activation(
    body: BulkSelection,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.VOUCHERS_ACTIVATE))],
) -> RunPublic:
    """Activate the accepted vouchers of a lot, a type or a number range."""
    return submit(
        app,
        Process.ACTIVATE,
        selection_criteria(body),
        principal=principal,
        scheduled_for=body.scheduled_for,
        response=response,
    )


@router.post("/cancellations", status_code=200)
def create_cancellation(
    body: CancellationCreate,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.VOUCHERS_CANCEL))],
) -> RunPublic:
    """Cancel the vouchers of a lot, a type, a number range, or one voucher (``number``)."""
    return submit(
        app,
        Process.CANCEL,
        selection_criteria(body, number=body.number),
        principal=principal,
        scheduled_for=body.scheduled_for,
        response=response,
    )


@router.post("/purges", status_code=200)
def create_purge(
    body: PurgeCreate,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.VOUCHERS_PURGE))],
) -> RunPublic:
    """Purge vouchers: destroy their secrets for good, keep the rows as tombstones."""
    criteria = selection_criteria(
        body,
        states=None if body.states is None else parse_states(body.states),
        days_after_expiration=body.days_after_expiration,
    )
    return submit(
        app,
        Process.PURGE,
        criteria,
        principal=principal,
        scheduled_for=body.scheduled_for,
        response=response,
    )


@router.post("/expirations", status_code=200)
def create_expiration(
    body: BulkSelection,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.VOUCHERS_EXPIRE))],
) -> RunPublic:
    """Record as expired the activated vouchers past expiration (all, or a selection)."""
    return submit(
        app,
        Process.EXPIRE,
        selection_criteria(body),
        principal=principal,
        scheduled_for=body.scheduled_for,
        response=response,
    )


@router.post("/exports", status_code=200)
def create_export(
    body: ExportCreate,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.EXPORTS_REQUEST))],
) -> RunPublic:
    """Export a lot's activated vouchers with their codes in clear, as a run; under the
    ``export_four_eyes`` setting it waits (202, ``awaiting``) for another finance user's
    ``POST /runs/{id}/approve``. The file is then at ``GET /runs/{id}/file``."""
    request = ExportRequest(parse_ref(body.lot), parse_format(body.format), _encryption(body))
    return submit(
        app,
        Process.EXPORT,
        request.as_criteria(),
        principal=principal,
        scheduled_for=body.scheduled_for,
        response=response,
    )


@router.get("/runs")
def list_runs(
    app: AppDep,
    _: Annotated[Principal, Depends(require(Permission.RUNS_READ))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[RunPublic]:
    """The most recent runs, newest first."""
    return [RunPublic.of(run) for run in service.list_runs(uow=app.uow(), limit=limit)]


@router.get("/runs/{run_id}")
def get_run(
    run_id: RunId,
    app: AppDep,
    _: Annotated[Principal, Depends(require(Permission.RUNS_READ))],
) -> RunPublic:
    """One run: what was asked, when, by whom, and how it went."""
    return RunPublic.of(service.get_run(run_id, uow=app.uow()))


@router.post("/runs/{run_id}/cancel")
def cancel_run(
    run_id: RunId,
    app: AppDep,
    _: Annotated[Principal, Depends(require(Permission.RUNS_CANCEL))],
) -> RunPublic:
    """Cancel a run that waits (scheduled or awaiting approval) before a worker claims it."""
    return RunPublic.of(service.cancel_run(run_id, uow=app.uow(), clock=app.clock))


@router.post("/runs/{run_id}/approve")
def approve_run(
    run_id: RunId,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.EXPORTS_APPROVE))],
) -> RunPublic:
    """Approve an export awaiting a second user (403 ``four-eyes`` for its requester); a
    run that is due is then carried out now, as its requester."""
    run = service.approve_run(run_id, uow=app.uow(), clock=app.clock, actor=actor_name(principal))
    if run.scheduled_for <= app.clock():
        run = _execute(app, run)
    return _answer(run, response)


@router.get(
    "/runs/{run_id}/file",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def get_run_file(
    run_id: RunId,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.EXPORTS_REQUEST))],
) -> FileResponse:
    """Download an export run's file (recorded as an ``export.downloaded`` event)."""
    path = exports.export_file(run_id, uow=app.uow(), clock=app.clock, actor=actor_name(principal))
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=path.rsplit("/", 1)[-1],
        headers={"Cache-Control": "no-store"},
    )


def _execute(app: App, run: ProcessRun) -> ProcessRun:
    context = service.RunContext(
        clock=app.clock,
        vault=app.vault,
        worker=worker_identity(),
        four_eyes=app.settings.four_eyes,
        files=app.export_files(),
        environ=app.environ,
    )
    return service.execute_run(run.id or 0, uow=app.uow(), context=context, reraise=True)


def _answer(run: ProcessRun, response: Response) -> RunPublic:
    if run.status in {RunStatus.SCHEDULED, RunStatus.AWAITING, RunStatus.RUNNING}:
        response.status_code = 202
    return RunPublic.of(run)


def _encryption(body: ExportCreate) -> Encryption:
    if body.passphrase_env is not None and body.recipients:
        raise ValidationError("choose passphrase_env or recipients, not both")
    if body.passphrase_env is not None:
        return Encryption(EncryptionKind.PASSPHRASE, passphrase_env=body.passphrase_env)
    if body.recipients:
        return Encryption(
            EncryptionKind.RECIPIENTS, recipients=parse_recipients("\n".join(body.recipients))
        )
    return Encryption()
