"""Lots: create a draft lot, list and show lots, and every lot action — generate, amend,
accept, reject and modify — each carried out as a process run (now, or at
``scheduled_for``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from vouchers.bootstrap import App
from vouchers.domain.access import Permission, Principal
from vouchers.domain.lifecycle import Process
from vouchers.entrypoints.api.deps import AppDep, actor_name, require
from vouchers.entrypoints.api.runs import submit
from vouchers.entrypoints.api.schemas_catalogue import (
    PRINTABLE,
    LotAmend,
    LotCreate,
    LotPublic,
    Modification,
    RunPublic,
    Scheduled,
    amount_minor,
    parse_ref,
)
from vouchers.services import lots as service
from vouchers.services import voucher_types
from vouchers.services.processes import Selection
from vouchers.services.runs import criteria_of

router = APIRouter(prefix="/lots", tags=["lots"])

LotRef = Annotated[
    str, Path(min_length=1, max_length=32, pattern=PRINTABLE, description="Alternative code or id.")
]


@router.get("")
def list_lots(
    app: AppDep,
    _: Annotated[Principal, Depends(require(Permission.LOTS_READ))],
    type: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
) -> list[LotPublic]:
    """Lots, newest first, optionally of one type."""
    type_ref = None if type is None else parse_ref(type)
    return [LotPublic.of(lot) for lot in service.list_lots(uow=app.uow(), type_ref=type_ref)]


@router.post("", status_code=201)
def create_lot(
    body: LotCreate,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.LOTS_WRITE))],
) -> LotPublic:
    """Create a draft lot; ``POST /lots/{ref}/generate`` then makes its codes."""
    type_ref = parse_ref(body.type)
    cur = voucher_types.get_voucher_type(type_ref, uow=app.uow()).currency
    lot = service.create_lot(
        type_ref,
        count=body.count,
        uow=app.uow(),
        clock=app.clock,
        actor=actor_name(principal),
        alternative_code=body.alternative_code,
        value_minor=amount_minor(body.value, cur),
        extra_value_minor=amount_minor(body.extra_value, cur),
        effective_at=body.effective_at,
        expires_at=body.expires_at,
        validity_days=body.validity_days,
        prefix=body.prefix,
        description=body.description,
    )
    return LotPublic.of(lot)


@router.get("/{ref}")
def get_lot(
    ref: LotRef,
    app: AppDep,
    _: Annotated[Principal, Depends(require(Permission.LOTS_READ))],
) -> LotPublic:
    """One lot by alternative code or id."""
    return LotPublic.of(service.get_lot(parse_ref(ref), uow=app.uow()))


@router.post("/{ref}/generate", status_code=200)
def generate_lot(
    ref: LotRef,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.LOTS_GENERATE))],
    body: Scheduled | None = None,
) -> RunPublic:
    """Generate the vouchers of a draft lot (continues an interrupted generation)."""
    return submit(
        app,
        Process.GENERATE,
        {"lot": parse_ref(ref)},
        principal=principal,
        scheduled_for=None if body is None else body.scheduled_for,
        response=response,
    )


@router.post("/{ref}/amend", status_code=200)
def amend_lot(
    ref: LotRef,
    body: LotAmend,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.LOTS_WRITE))],
) -> RunPublic:
    """Add ``count`` vouchers to a posted lot (a new block of numbers) and generate them."""
    actor = actor_name(principal)
    service.amend_lot(parse_ref(ref), count=body.count, uow=app.uow(), clock=app.clock, actor=actor)
    return submit(
        app,
        Process.GENERATE,
        {"lot": parse_ref(ref)},
        principal=principal,
        scheduled_for=body.scheduled_for,
        response=response,
    )


@router.post("/{ref}/accept", status_code=200)
def accept_lot(
    ref: LotRef,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.VOUCHERS_ACCEPT))],
    body: Scheduled | None = None,
) -> RunPublic:
    """Accept a lot's draft vouchers for activation (not by whoever generated it)."""
    return _lot_process(app, Process.ACCEPT, ref, principal, body, response)


@router.post("/{ref}/reject", status_code=200)
def reject_lot(
    ref: LotRef,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.VOUCHERS_ACCEPT))],
    body: Scheduled | None = None,
) -> RunPublic:
    """Reject a lot's draft vouchers."""
    return _lot_process(app, Process.REJECT, ref, principal, body, response)


@router.post("/{ref}/modify", status_code=200)
def modify_lot(
    ref: LotRef,
    body: Modification,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.LOTS_WRITE))],
) -> RunPublic:
    """Change the type or validity dates of a lot's vouchers (never their value)."""
    criteria = criteria_of(Selection(lot=parse_ref(ref)), **body.extra())
    return submit(
        app,
        Process.MODIFY,
        criteria,
        principal=principal,
        scheduled_for=body.scheduled_for,
        response=response,
    )


def _lot_process(
    app: App,
    process: Process,
    ref: str,
    principal: Principal,
    body: Scheduled | None,
    response: Response,
) -> RunPublic:
    return submit(
        app,
        process,
        criteria_of(Selection(lot=parse_ref(ref))),
        principal=principal,
        scheduled_for=None if body is None else body.scheduled_for,
        response=response,
    )
