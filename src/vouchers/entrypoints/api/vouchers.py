"""Vouchers: the filtered, keyset-paginated list, one voucher, its history, the reveal of
its code and its QR code (finance, with a reason, recorded), and the one-voucher processes
— accept, reject, cancel, modify — each carried out as a process run.

Codes are masked everywhere but the reveal. A principal confined to a customer (a portal
sign-in) sees only that customer's vouchers; anyone else's answer 404, so their existence
does not leak.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from vouchers.adapters.qr import render_qr
from vouchers.bootstrap import App
from vouchers.domain.access import Permission, Principal
from vouchers.domain.lifecycle import Process
from vouchers.domain.vouchers import VoucherState
from vouchers.entrypoints.api.deps import AppDep, actor_name, require
from vouchers.entrypoints.api.runs import submit
from vouchers.entrypoints.api.schemas_catalogue import (
    PRINTABLE,
    HistoryEntryPublic,
    Modification,
    RevealCreate,
    RevealPublic,
    RunPublic,
    Scheduled,
    VoucherPage,
    VoucherPublic,
    parse_ref,
)
from vouchers.errors import VoucherNotFoundError
from vouchers.services import vouchers as service
from vouchers.services.processes import Selection
from vouchers.services.qr_codes import QrFormat, voucher_qr
from vouchers.services.runs import criteria_of
from vouchers.services.vouchers import VoucherView

router = APIRouter(prefix="/vouchers", tags=["vouchers"])

VoucherNumber = Annotated[int, Path(ge=1, le=2**62, description="The voucher number.")]
RefQuery = Annotated[str | None, Query(min_length=1, max_length=64, pattern=PRINTABLE)]
NumberQuery = Annotated[int | None, Query(ge=1, le=2**62)]
MAX_PAGE = 1000
IMAGE = {"schema": {"type": "string", "format": "binary"}}
Reason = Annotated[
    str,
    Query(
        min_length=1,
        max_length=500,
        pattern=r"^[^\x00-\x1f\x7f]*$",  # printable: it is stored in the history
        description="Why the code is shown; kept in the voucher's history.",
    ),
]
RedeemUrl = Annotated[
    str | None,
    Query(
        min_length=8,
        max_length=500,
        pattern=r"^https?://[!-~]+$",
        description="The redemption page the QR code opens; default this server's /redeem.",
    ),
]


@router.get("")
def list_vouchers(
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.VOUCHERS_READ))],
    after: Annotated[int, Query(ge=0, le=2**62, description="The `next` of the last page.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    state: Annotated[list[VoucherState] | None, Query(max_length=len(VoucherState))] = None,
    lot: RefQuery = None,
    type: RefQuery = None,
    number_from: NumberQuery = None,
    number_to: NumberQuery = None,
    customer: RefQuery = None,
    text: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> VoucherPage:
    """Vouchers in number order, codes masked, in pages: pass a page's ``next`` as ``after``
    for the following one (``next`` is null on the last page).

    Filters combine: ``state`` (repeatable, as of now), ``lot``, ``type``, a number range,
    ``customer`` (external reference or id; assigned to or redeemed by) and ``text`` (the
    code's last four characters, or part of the notes).
    """
    found = service.list_vouchers(
        uow=app.uow(),
        clock=app.clock,
        after=after,
        limit=limit + 1,
        lot_ref=None if lot is None else parse_ref(lot),
        type_ref=None if type is None else parse_ref(type),
        states=None if state is None else frozenset(state),
        number_from=number_from,
        number_to=number_to,
        customer_ref=None if customer is None else parse_ref(customer),
        customer_id=principal.customer_id,
        text=text,
    )
    page = found[:limit]
    more = len(found) > limit
    return VoucherPage(
        items=[VoucherPublic.of(view) for view in page],
        next=page[-1].voucher.number if more else None,
    )


@router.get("/{number}")
def get_voucher(
    number: VoucherNumber,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.VOUCHERS_READ))],
) -> VoucherPublic:
    """One voucher, code masked."""
    return VoucherPublic.of(_visible(app, number, principal))


@router.get("/{number}/history")
def get_voucher_history(
    number: VoucherNumber,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.HISTORY_READ))],
) -> list[HistoryEntryPublic]:
    """A voucher's history, oldest first: who moved it, when and how, and every reveal."""
    _visible(app, number, principal)
    entries = service.voucher_history(number, uow=app.uow())
    return [HistoryEntryPublic.of(entry) for entry in entries]


@router.post("/{number}/reveal")
def reveal_voucher_code(
    number: VoucherNumber,
    body: RevealCreate,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.VOUCHERS_REVEAL))],
) -> RevealPublic:
    """The code in clear; who, when and why go into the voucher's history."""
    code = service.reveal_code(
        number,
        reason=body.reason,
        uow=app.uow(),
        vault=app.vault,
        clock=app.clock,
        actor=actor_name(principal),
    )
    response.headers["Cache-Control"] = "no-store"
    return RevealPublic(number=number, code=code)


@router.get(
    "/{number}/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": IMAGE}, "description": "A PNG image."}},
)
def get_voucher_qr_png(
    number: VoucherNumber,
    reason: Reason,
    request: Request,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.VOUCHERS_REVEAL))],
    redeem_url: RedeemUrl = None,
) -> Response:
    """The voucher's QR code as PNG: its redemption page with the code filled in.

    Showing it shows the code, so it is a reveal, recorded in the voucher's history with
    the reason; ``Cache-Control: no-store``.
    """
    return _qr(app, number, QrFormat.PNG, reason, principal, redeem_url or _redeem_page(request))


@router.get(
    "/{number}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": IMAGE}, "description": "An SVG image."}},
)
def get_voucher_qr_svg(
    number: VoucherNumber,
    reason: Reason,
    request: Request,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.VOUCHERS_REVEAL))],
    redeem_url: RedeemUrl = None,
) -> Response:
    """The voucher's QR code as SVG; a reveal, recorded like ``qr.png``."""
    return _qr(app, number, QrFormat.SVG, reason, principal, redeem_url or _redeem_page(request))


@router.post("/{number}/accept", status_code=200)
def accept_voucher(
    number: VoucherNumber,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.VOUCHERS_ACCEPT))],
    body: Scheduled | None = None,
) -> RunPublic:
    """Accept one draft voucher for activation (not by whoever generated it)."""
    return _one(app, Process.ACCEPT, number, principal, body, response)


@router.post("/{number}/reject", status_code=200)
def reject_voucher(
    number: VoucherNumber,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.VOUCHERS_ACCEPT))],
    body: Scheduled | None = None,
) -> RunPublic:
    """Reject one draft voucher."""
    return _one(app, Process.REJECT, number, principal, body, response)


@router.post("/{number}/cancel", status_code=200)
def cancel_voucher(
    number: VoucherNumber,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.VOUCHERS_CANCEL))],
    body: Scheduled | None = None,
) -> RunPublic:
    """Cancel one voucher."""
    return _one(app, Process.CANCEL, number, principal, body, response)


@router.post("/{number}/modify", status_code=200)
def modify_voucher(
    number: VoucherNumber,
    body: Modification,
    app: AppDep,
    response: Response,
    principal: Annotated[Principal, Depends(require(Permission.VOUCHERS_MODIFY))],
) -> RunPublic:
    """Change one voucher's type or validity dates (never its value)."""
    criteria = criteria_of(Selection(number=number), **body.extra())
    return submit(
        app,
        Process.MODIFY,
        criteria,
        principal=principal,
        scheduled_for=body.scheduled_for,
        response=response,
    )


def _visible(app: App, number: int, principal: Principal) -> VoucherView:
    """The voucher, if ``principal`` may see it; one of another customer is not found."""
    view = service.get_voucher(number, uow=app.uow(), clock=app.clock)
    voucher = view.voucher
    if principal.customer_id is not None and principal.customer_id not in (
        voucher.customer_id,
        voucher.used_by,
    ):
        raise VoucherNotFoundError(f"no voucher number {number}")
    return view


def _redeem_page(request: Request) -> str:
    """This server's redemption page, ``/redeem``: what ``vouchers qr`` and print sheets
    encode by default for a server on 127.0.0.1:8000."""
    return f"{str(request.base_url).rstrip('/')}/redeem"


def _qr(
    app: App, number: int, fmt: QrFormat, reason: str, principal: Principal, redeem_url: str
) -> Response:
    drawn = voucher_qr(
        number,
        fmt=fmt,
        reason=reason,
        uow=app.uow(),
        vault=app.vault,
        clock=app.clock,
        actor=actor_name(principal),
        render=render_qr,
        redeem_url=redeem_url,
    )
    return Response(drawn.image, media_type=drawn.media_type, headers={"Cache-Control": "no-store"})


def _one(
    app: App,
    process: Process,
    number: int,
    principal: Principal,
    body: Scheduled | None,
    response: Response,
) -> RunPublic:
    return submit(
        app,
        process,
        criteria_of(Selection(number=number)),
        principal=principal,
        scheduled_for=None if body is None else body.scheduled_for,
        response=response,
    )
