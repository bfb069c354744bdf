"""``vouchers runs`` (list, show, cancel, approve, file) and ``vouchers worker``: the
process-run queue."""

from __future__ import annotations

import shutil
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vouchers.bootstrap import App, local_worker_alive, worker_identity
from vouchers.domain.lifecycle import Process
from vouchers.domain.runs import ProcessRun, RunStatus
from vouchers.entrypoints.cli.context import console, emit, fail, handled, progress_bar, state
from vouchers.errors import ValidationError
from vouchers.services import exports as export_service
from vouchers.services import runs as service

app = typer.Typer(help="Process runs: bulk processes, now or scheduled.", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def register(root: typer.Typer) -> None:
    """Add ``runs`` and ``worker`` to the root app."""
    root.add_typer(app, name="runs")
    root.command("worker")(worker)


def render(run: ProcessRun) -> dict[str, Any]:
    """A run as plain data."""
    return {
        "id": run.id,
        "process": run.process,
        "criteria": run.criteria,
        "status": str(run.status),
        "scheduled_for": run.scheduled_for.isoformat(),
        "requested_by": run.requested_by,
        "requested_at": run.requested_at.isoformat(),
        "started_at": None if run.started_at is None else run.started_at.isoformat(),
        "finished_at": None if run.finished_at is None else run.finished_at.isoformat(),
        "done": run.done,
        "total": run.total,
        "count": run.count,
        "error": run.error,
        "worker": run.worker,
        "approved_by": run.approved_by,
        "approved_at": None if run.approved_at is None else run.approved_at.isoformat(),
        "result_file": run.result_file,
        "file_expires_at": None if run.file_expires_at is None else run.file_expires_at.isoformat(),
    }


def submit(
    ctx: typer.Context,
    process: Process,
    criteria: dict[str, Any],
    *,
    at: str | None,
    as_json: bool,
) -> ProcessRun:
    """Request a run; carry it out here and now unless ``at`` schedules it for later.

    Exits with the run's error (exit 5 for a refused transition, as the service raised it)
    when it fails. Used by every bulk-process command.
    """
    cli = state(ctx)
    application = cli.app()
    with handled(as_json=as_json):
        run = service.request_run(
            process,
            criteria,
            uow=application.uow(),
            clock=application.clock,
            actor=cli.settings.actor,
            scheduled_for=parse_time(at),
        )
        if at is None and run.status is RunStatus.SCHEDULED:
            with (
                progress_bar(str(process), enabled=not as_json) as bar,
                application.worker_pool() as pool,
            ):
                run = service.execute_run(
                    run.id or 0,
                    uow=application.uow(),
                    context=_context(application, cli.settings.four_eyes, pool, bar),
                    reraise=True,
                )
    if run.status is RunStatus.FAILED:
        fail(f"run {run.id} failed: {run.error}", 5, as_json=as_json, kind="run-failed")
    return run


@app.command("list")
def list_(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 50,
    as_json: Json = False,
) -> None:
    """The most recent runs, newest first."""
    with handled(as_json=as_json):
        found = service.list_runs(uow=state(ctx).app().uow(), limit=limit)
    data = [render(run) for run in found]

    def human() -> None:
        table = Table("run", "process", "status", "scheduled for", "by", "done", "count")
        for row in data:
            table.add_row(
                str(row["id"]),
                row["process"],
                row["status"],
                row["scheduled_for"],
                row["requested_by"],
                f"{row['done']}/{row['total'] or '?'}",
                str(row["count"] if row["count"] is not None else ""),
            )
        console.print(table)

    emit(data, as_json=as_json, human=human)


@app.command("show")
def show(ctx: typer.Context, run_id: int, as_json: Json = False) -> None:
    """One run: what was asked, when, by whom, and how it went."""
    with handled(as_json=as_json):
        data = render(service.get_run(run_id, uow=state(ctx).app().uow()))
    emit(data, as_json=as_json, human=lambda: _print(data))


@app.command("cancel")
def cancel(ctx: typer.Context, run_id: int, as_json: Json = False) -> None:
    """Cancel a scheduled run before a worker claims it."""
    with handled(as_json=as_json):
        application = state(ctx).app()
        data = render(service.cancel_run(run_id, uow=application.uow(), clock=application.clock))
    emit(data, as_json=as_json, human=lambda: _print(data))


@app.command("approve")
def approve(
    ctx: typer.Context,
    run_id: int,
    as_json: Json = False,
) -> None:
    """Approve a run awaiting a second user (an export of secrets under four-eyes); a run
    that is due is then carried out here and now, as its requester."""
    cli = state(ctx)
    with handled(as_json=as_json):
        application = cli.app()
        run = service.approve_run(
            run_id, uow=application.uow(), clock=application.clock, actor=cli.settings.actor
        )
        if run.scheduled_for <= application.clock():
            with progress_bar(run.process, enabled=not as_json) as bar:
                run = service.execute_run(
                    run_id,
                    uow=application.uow(),
                    context=_context(application, cli.settings.four_eyes, None, bar),
                    reraise=True,
                )
    data = render(run)
    if run.status is RunStatus.FAILED:
        fail(f"run {run.id} failed: {run.error}", 5, as_json=as_json, kind="run-failed")
    emit(data, as_json=as_json, human=lambda: _print(data))


@app.command("file")
def file(
    ctx: typer.Context,
    run_id: int,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Copy the file here (mode 0600); default: to stdout."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Download an export run's file (recorded as an ``export.downloaded`` event)."""
    cli = state(ctx)
    with handled(as_json=as_json):
        application = cli.app()
        path = export_service.export_file(
            run_id, uow=application.uow(), clock=application.clock, actor=cli.settings.actor
        )
        if out is None:
            with open(path, "rb") as source:
                shutil.copyfileobj(source, sys.stdout.buffer)
            sys.stdout.flush()
            return
        try:
            out.touch(mode=0o600, exist_ok=False)
            shutil.copyfile(path, out)
        except OSError as exc:
            raise ValidationError(f"cannot write {out}: {exc.strerror or exc}") from exc
    data = {"run": run_id, "file": str(out)}
    emit(data, as_json=as_json, human=lambda: console.print(f"run {run_id}: wrote {out}"))


def worker(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option(help="Stop when no run is due.")] = False,
    poll: Annotated[float, typer.Option(min=0.1, help="Seconds between looks at the queue.")] = 5,
    as_json: Json = False,
) -> None:
    """Carry out due runs (and finish those of workers that died) until stopped."""
    cli = state(ctx)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with handled(as_json=as_json):
        application = cli.app()
        with application.worker_pool() as pool:
            carried = service.work(
                uow=application.uow(),
                context=_context(application, cli.settings.four_eyes, pool, None),
                alive=local_worker_alive,
                should_stop=stop.is_set,
                sleep=stop.wait,
                once=once,
                poll_seconds=poll,
            )
    emit(
        {"runs": carried},
        as_json=as_json,
        human=lambda: console.print(f"carried out {carried} run(s)"),
    )


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 time; a time without zone is UTC."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(f"{text!r} is not an ISO 8601 time") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _context(application: App, four_eyes: bool, pool: Any, bar: Any) -> service.RunContext:
    return service.RunContext(
        clock=application.clock,
        vault=application.vault,
        worker=worker_identity(),
        four_eyes=four_eyes,
        executor=pool,
        progress=bar,
        files=application.export_files(),
        environ=application.environ,
    )


def _print(data: dict[str, Any]) -> None:
    for key, value in data.items():
        console.print(f"{key:>14}: {value}", highlight=False)
