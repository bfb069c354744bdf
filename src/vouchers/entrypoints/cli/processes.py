"""The life-cycle commands: accept, reject, modify, activate, cancel, purge and expire, for
one voucher (``vouchers accept NUMBER``), a lot (``vouchers lots accept LOT``) or a bulk
selection (``vouchers activate --lot LOT``).

Each command builds a ``Selection`` and submits it as a process run: carried out at once
as the acting user (under the four-eyes setting), or with ``--at`` queued for a worker.
The services decide which selections a process takes and which vouchers move. The
result is ``{"process", "count", "run"}``, or the scheduled run.
"""

from __future__ import annotations

from typing import Annotated

import typer

from vouchers.domain.lifecycle import RESULTS, Process, parse_states
from vouchers.domain.runs import ProcessRun, RunStatus
from vouchers.domain.vouchers import VoucherState
from vouchers.entrypoints.cli import runs
from vouchers.entrypoints.cli.context import (
    Json,
    console,
    emit,
    handled,
    parse_moment,
    parse_ref,
)
from vouchers.entrypoints.cli.runs import submit
from vouchers.services.processes import Selection
from vouchers.services.runs import criteria_of

Number = Annotated[int, typer.Argument(help="The voucher number.")]
LotRef = Annotated[str, typer.Argument(help="Lot alternative code or id.")]
Lot = Annotated[str | None, typer.Option("--lot", help="Vouchers of this lot (code or id).")]
Type = Annotated[str | None, typer.Option("--type", help="Vouchers of this type (code or id).")]
From = Annotated[int | None, typer.Option("--from", help="First voucher number of a range.")]
To = Annotated[int | None, typer.Option("--to", help="Last voucher number of a range.")]
NewType = Annotated[
    str | None, typer.Option("--type", help="Move to this type (same currency and value).")
]
Effective = Annotated[str | None, typer.Option(help="New effective date (ISO 8601).")]
At = Annotated[
    str | None,
    typer.Option("--at", help="Schedule for this time (ISO 8601) instead of running now."),
]
Expires = Annotated[str | None, typer.Option(help="New expiration date (ISO 8601).")]


def register(app: typer.Typer, *, lots: typer.Typer) -> None:
    """Add the voucher life-cycle commands to the root app and the lot ones to ``lots``."""
    for name, command in (
        ("accept", accept),
        ("reject", reject),
        ("modify", modify),
        ("activate", activate),
        ("cancel", cancel),
        ("purge", purge),
        ("expire", expire),
    ):
        app.command(name)(command)
    lots.command("accept")(accept_lot)
    lots.command("reject")(reject_lot)
    lots.command("modify")(modify_lot)


def accept(ctx: typer.Context, number: Number, at: At = None, as_json: Json = False) -> None:
    """Accept one draft voucher for activation."""
    _run(ctx, Process.ACCEPT, Selection(number=number), at=at, as_json=as_json)


def reject(ctx: typer.Context, number: Number, at: At = None, as_json: Json = False) -> None:
    """Reject one draft voucher."""
    _run(ctx, Process.REJECT, Selection(number=number), at=at, as_json=as_json)


def modify(
    ctx: typer.Context,
    number: Number,
    type_ref: NewType = None,
    effective: Effective = None,
    expires: Expires = None,
    at: At = None,
    as_json: Json = False,
) -> None:
    """Change one voucher's type or validity dates (never its value)."""
    _modify(ctx, Selection(number=number), type_ref, effective, expires, at=at, as_json=as_json)


def accept_lot(ctx: typer.Context, lot: LotRef, at: At = None, as_json: Json = False) -> None:
    """Accept a lot's draft vouchers for activation."""
    _run(ctx, Process.ACCEPT, Selection(lot=parse_ref(lot)), at=at, as_json=as_json)


def reject_lot(ctx: typer.Context, lot: LotRef, at: At = None, as_json: Json = False) -> None:
    """Reject a lot's draft vouchers."""
    _run(ctx, Process.REJECT, Selection(lot=parse_ref(lot)), at=at, as_json=as_json)


def modify_lot(
    ctx: typer.Context,
    lot: LotRef,
    type_ref: NewType = None,
    effective: Effective = None,
    expires: Expires = None,
    at: At = None,
    as_json: Json = False,
) -> None:
    """Change the type or validity dates of a lot's vouchers (never their value)."""
    _modify(
        ctx, Selection(lot=parse_ref(lot)), type_ref, effective, expires, at=at, as_json=as_json
    )


def activate(
    ctx: typer.Context,
    lot: Lot = None,
    type_ref: Type = None,
    number_from: From = None,
    number_to: To = None,
    at: At = None,
    as_json: Json = False,
) -> None:
    """Activate accepted vouchers of a lot, a type or a number range."""
    selection = _selection(lot, type_ref, number_from, number_to)
    _run(ctx, Process.ACTIVATE, selection, at=at, as_json=as_json)


def cancel(
    ctx: typer.Context,
    lot: Lot = None,
    type_ref: Type = None,
    number_from: From = None,
    number_to: To = None,
    number: Annotated[int | None, typer.Option("--number", help="One voucher.")] = None,
    at: At = None,
    as_json: Json = False,
) -> None:
    """Cancel the vouchers of a lot, a type, a number range, or one voucher."""
    selection = _selection(lot, type_ref, number_from, number_to, number=number)
    _run(ctx, Process.CANCEL, selection, at=at, as_json=as_json)


def purge(
    ctx: typer.Context,
    lot: Lot = None,
    type_ref: Type = None,
    number_from: From = None,
    number_to: To = None,
    states: Annotated[
        str | None, typer.Option(help="Only these states, comma-separated, e.g. cancelled.")
    ] = None,
    days_after_expiration: Annotated[
        int | None, typer.Option(help="Only vouchers expired at least this many days ago.")
    ] = None,
    at: At = None,
    as_json: Json = False,
) -> None:
    """Purge vouchers: destroy their secrets for good and keep the rows as tombstones."""
    with handled(as_json=as_json):
        selection = _selection(
            lot,
            type_ref,
            number_from,
            number_to,
            states=None if states is None else parse_states(states.split(",")),
            days_after_expiration=days_after_expiration,
        )
    _run(ctx, Process.PURGE, selection, at=at, as_json=as_json)


def expire(
    ctx: typer.Context,
    lot: Lot = None,
    type_ref: Type = None,
    number_from: From = None,
    number_to: To = None,
    at: At = None,
    as_json: Json = False,
) -> None:
    """Record as expired the activated vouchers past their expiration (all, or a selection)."""
    _run(
        ctx,
        Process.EXPIRE,
        _selection(lot, type_ref, number_from, number_to),
        at=at,
        as_json=as_json,
    )


def _selection(
    lot: str | None,
    type_ref: str | None,
    number_from: int | None,
    number_to: int | None,
    *,
    number: int | None = None,
    states: frozenset[VoucherState] | None = None,
    days_after_expiration: int | None = None,
) -> Selection:
    return Selection(
        lot=None if lot is None else parse_ref(lot),
        voucher_type=None if type_ref is None else parse_ref(type_ref),
        number_from=number_from,
        number_to=number_to,
        number=number,
        states=states,
        days_after_expiration=days_after_expiration,
    )


def _run(
    ctx: typer.Context,
    process: Process,
    selection: Selection,
    *,
    at: str | None,
    as_json: bool,
    **extra: object,
) -> None:
    with handled(as_json=as_json):
        criteria = criteria_of(selection, **extra)
    run = submit(ctx, process, criteria, at=at, as_json=as_json)
    _emit(run, selection, as_json=as_json)


def _modify(
    ctx: typer.Context,
    selection: Selection,
    type_ref: str | None,
    effective: str | None,
    expires: str | None,
    *,
    at: str | None,
    as_json: bool,
) -> None:
    with handled(as_json=as_json):
        changes = {
            "type_ref": None if type_ref is None else parse_ref(type_ref),
            "effective_at": parse_moment(effective),
            "expires_at": parse_moment(expires),
        }
    _run(ctx, Process.MODIFY, selection, at=at, as_json=as_json, **changes)


def _emit(run: ProcessRun, selection: Selection, *, as_json: bool) -> None:
    if run.status is RunStatus.SCHEDULED:
        emit(
            runs.render(run),
            as_json=as_json,
            human=lambda: console.print(
                f"run {run.id}: {run.process} scheduled for {run.scheduled_for.isoformat()}",
                highlight=False,
            ),
        )
        return
    count = run.count or 0
    noun = "voucher" if count == 1 else "vouchers"
    emit(
        {"process": run.process, "count": count, "run": run.id},
        as_json=as_json,
        human=lambda: console.print(
            f"{count:,} {noun} {_done(Process(run.process))} ({selection.describe()}) "
            f"in run {run.id}",
            highlight=False,
        ),
    )


def _done(process: Process) -> str:
    """What a process did to a voucher, in a word: its result state, or "modified"."""
    result = RESULTS.get(process)
    return "modified" if result is None else result.value
