"""Routes for redemptions: redeem and validate a code, read a redemption, reverse it.

``POST /redemptions`` redeems (201; with an ``Idempotency-Key`` a repeat answers the first
result with 200 and ``Idempotent-Replayed: true``, and the key reused for another request
is refused with 422 ``idempotency-key-reused``); ``POST /redemptions/validate`` runs the
same checks and moves nothing. The caller that anti-guessing counters and idempotency keys
belong to is the principal (``key:<name>``, a username, ``customer:<ref>``); the client
address is the connection's peer, or, only when that peer is a trusted proxy
(``app.state.trusted_proxies``, empty by default), the last untrusted hop of
``X-Forwarded-For``.

A principal confined to a customer redeems only into its own account (403 otherwise,
whatever the other reference) and reads only its own redemptions (404 otherwise). A
customer's own portal session declares no payment (``amount``, ``payment_reference``:
403) unless the operator turned ``portal_topups`` on; a host platform's key does.

The two hot routes are ``async`` and hand only the service call to the thread pool: a
plain ``def`` route would also validate its response there, a second thread hop a request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from vouchers.bootstrap import App
from vouchers.domain.access import Permission, Principal, PrincipalKind, authorize
from vouchers.domain.redemptions import Channel, Redemption
from vouchers.entrypoints.api.customers import (
    CustomerRef,
    ExternalRef,
    Reference,
    load_customer,
)
from vouchers.entrypoints.api.deps import API_PREFIX, AppDep, actor_name, require
from vouchers.entrypoints.api.schemas_catalogue import MAX_ID, PRINTABLE
from vouchers.entrypoints.api.wallets import (
    AMOUNT,
    REPLAYED_HEADER,
    IdempotencyKey,
    amounts,
    balance,
)
from vouchers.errors import PermissionDeniedError, RedemptionNotFoundError
from vouchers.services import customers as customer_service
from vouchers.services import portal, reversals
from vouchers.services import redemptions as service
from vouchers.services.redemptions import RedemptionRequest, RedemptionResult

router = APIRouter(tags=["redemptions"])

RedemptionId = Annotated[int, Path(ge=1, le=MAX_ID, description="The redemption's id.")]


class RedemptionCreate(BaseModel):
    """A code to redeem for a customer; everything but ``code`` and ``customer`` optional.

    ``amount`` is the paid top-up that comes with a bonus voucher, in major units as a
    string (``"100.00"``), in ``currency`` or the voucher's.
    """

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=PRINTABLE)]
    customer: ExternalRef = Field(description="The customer's external reference.")
    amount: str | None = Field(default=None, pattern=AMOUNT, examples=["100.00"])
    currency: str | None = Field(default=None, pattern=r"^[A-Za-z]{3}$", examples=["EUR"])
    payment_reference: Reference | None = None
    product: Reference | None = None
    purchase_reference: Reference | None = None
    channel: Channel = Channel.API
    create_customer: bool = Field(
        default=False, description="Create the customer if unknown (needs customers.write)."
    )


class ReversalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=PRINTABLE)]


def client_address(request: Request) -> str | None:
    """The address counted for anti-guessing: the peer, unless the peer is a trusted proxy."""
    peer = request.client.host if request.client is not None else None
    trusted: frozenset[str] = frozenset(getattr(request.app.state, "trusted_proxies", ()))
    forwarded = request.headers.get("x-forwarded-for")
    if peer is None or peer not in trusted or not forwarded:
        return peer
    for hop in reversed([h.strip() for h in forwarded.split(",")]):
        if hop in trusted:
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            return peer  # a forged or garbled header: count the proxy, not a made-up address
    return peer


def result_public(result: RedemptionResult, *, dry_run: bool) -> dict[str, Any]:
    """What a redemption credited (or would credit) and, unless a dry run, the balance after."""
    code = result.currency
    after = None
    if result.balance_paid_minor is not None and result.balance_bonus_minor is not None:
        after = balance(code, result.balance_paid_minor, result.balance_bonus_minor)
    return {
        "dry_run": dry_run,
        "redemption_id": result.redemption_id,
        "voucher_number": result.voucher_number,
        "customer": result.customer,
        "currency": code,
        **amounts(
            code,
            value=result.value_minor,
            topup=result.topup_minor,
            paid=result.paid_minor,
            bonus=result.bonus_minor,
            payment=result.payment_minor,
        ),
        "product": result.product,
        "purchase_reference": result.purchase_reference,
        "payment_type": result.payment_type,
        "channel": result.channel,
        "redeemed_at": result.redeemed_at,
        "balance": after,
        "replayed": result.replayed,
        "events": list(result.events),
    }


def redemption_public(redemption: Redemption, customer_ref: str) -> dict[str, Any]:
    credit, code = redemption.credit, redemption.credit.currency
    return {
        "id": redemption.id,
        "voucher_number": redemption.voucher_number,
        "customer": customer_ref,
        "customer_id": redemption.customer_id,
        "type_id": redemption.type_id,
        "lot_id": redemption.lot_id,
        "status": str(redemption.status),
        "channel": str(redemption.channel),
        "currency": code,
        **amounts(
            code,
            value=credit.value_minor,
            topup=credit.topup_minor,
            paid=credit.paid_minor,
            bonus=credit.bonus_minor,
            payment=credit.payment_minor,
        ),
        "product": redemption.product,
        "purchase_reference": redemption.purchase_reference,
        "payment_reference": redemption.payment_reference,
        "payment_type": redemption.payment_type,
        "redeemed_at": redemption.redeemed_at.isoformat(),
        "redeemed_by": redemption.redeemed_by,
        "caller": redemption.caller,
        "client_address": redemption.client_address,
        "reversed_at": None
        if redemption.reversed_at is None
        else redemption.reversed_at.isoformat(),
        "reversed_by": redemption.reversed_by,
    }


def _request(
    body: RedemptionCreate, request: Request, principal: Principal, key: str | None, app: App
) -> RedemptionRequest:
    """The service request, once the principal may redeem for the body's customer."""
    if principal.customer_id is not None:
        own = customer_service.get_customer(principal.customer_id, uow=app.uow())
        if body.customer.strip() != own.external_ref:
            raise PermissionDeniedError(f"{principal.name} may redeem only for its own customer")
        authorize(principal, Permission.REDEMPTIONS_CREATE, customer_id=own.id)
    elif body.create_customer:  # a confined principal's own customer exists already
        authorize(principal, Permission.CUSTOMERS_WRITE)
    asked = RedemptionRequest(
        code=body.code,
        customer=body.customer.strip(),
        amount=body.amount,
        currency=body.currency,
        payment_reference=body.payment_reference,
        product=body.product,
        purchase_reference=body.purchase_reference,
        channel=body.channel,
        client_address=client_address(request),
        caller=actor_name(principal),
        idempotency_key=key,
        create_customer=body.create_customer,
    )
    if principal.kind is PrincipalKind.CUSTOMER:  # a portal session declares no payments
        portal.check_customer_request(asked, uow=app.uow())
    return asked


@router.post(
    "/redemptions",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "A replay of an earlier request with the same key."}},
)
async def redeem(
    body: RedemptionCreate,
    request: Request,
    response: Response,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.REDEMPTIONS_CREATE))],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Redeem a code for a customer: what was credited and the balance after.

    Refusals are problem documents: 422 with the exact reason (``voucher-used``,
    ``voucher-unknown``, ``minimum-activation``, …; customers hear only
    ``voucher-unavailable``), 429 with ``Retry-After`` during a lock-out.
    """
    result = await run_in_threadpool(
        _call, service.redeem_voucher, body, request, principal, idempotency_key, app
    )
    if result.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers[REPLAYED_HEADER] = "true"
    if result.redemption_id is not None:
        response.headers["Location"] = f"{API_PREFIX}/redemptions/{result.redemption_id}"
    return result_public(result, dry_run=False)


@router.post("/redemptions/validate")
async def validate(
    body: RedemptionCreate,
    request: Request,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.REDEMPTIONS_CREATE))],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """The checks of a redemption and what it would credit; nothing moves (failed codes
    still count toward lock-outs). An ``Idempotency-Key`` is accepted and ignored."""
    result = await run_in_threadpool(
        _call, service.validate_redemption, body, request, principal, None, app
    )
    return result_public(result, dry_run=True)


def _call(
    redeem_or_validate: Callable[..., RedemptionResult],
    body: RedemptionCreate,
    request: Request,
    principal: Principal,
    key: str | None,
    app: App,
) -> RedemptionResult:
    """The service call of both routes, run in the thread pool (it uses the database)."""
    return redeem_or_validate(
        _request(body, request, principal, key, app),
        uow=app.uow(),
        vault=app.vault,
        clock=app.clock,
        actor=actor_name(principal),
        codebook=app.codebook,
    )


def _visible(redemption_id: int, principal: Principal, app: App) -> tuple[Redemption, str]:
    """A redemption the principal may read, and its customer's reference (else 404)."""
    redemption = service.get_redemption(redemption_id, uow=app.uow())
    if principal.customer_id is not None and redemption.customer_id != principal.customer_id:
        raise RedemptionNotFoundError(f"no redemption {redemption_id}")
    authorize(principal, Permission.REDEMPTIONS_READ, customer_id=redemption.customer_id)
    owner = customer_service.get_customer(redemption.customer_id, uow=app.uow())
    return redemption, owner.external_ref


@router.get("/redemptions/{redemption_id}")
def get_redemption(
    redemption_id: RedemptionId,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.REDEMPTIONS_READ))],
) -> dict[str, Any]:
    """One redemption: what it credited, to whom, how, and whether it was reversed."""
    return redemption_public(*_visible(redemption_id, principal, app))


@router.post("/redemptions/{redemption_id}/reversal")
def reverse_redemption(
    redemption_id: RedemptionId,
    body: ReversalCreate,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.REDEMPTIONS_REVERSE))],
) -> dict[str, Any]:
    """Undo a redemption within the reversal window: the credit is taken back and the
    voucher activated again. 409 ``reversal-refused`` (already reversed, window closed),
    409 ``insufficient-funds`` (the customer spent it)."""
    authorize(principal, Permission.REDEMPTIONS_REVERSE)  # never a confined principal
    reversed_ = reversals.reverse_redemption(
        redemption_id,
        reason=body.reason,
        uow=app.uow(),
        clock=app.clock,
        actor=actor_name(principal),
    )
    owner = customer_service.get_customer(reversed_.customer_id, uow=app.uow())
    return redemption_public(reversed_, owner.external_ref)


@router.get("/customers/{ref}/redemptions")
def list_customer_redemptions(
    ref: CustomerRef,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.REDEMPTIONS_READ))],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """A customer's redemptions, newest first."""
    customer = load_customer(ref, principal, Permission.REDEMPTIONS_READ, app=app)
    found = service.customer_redemptions(customer.require_id(), uow=app.uow(), limit=limit)
    return {
        "customer": customer.external_ref,
        "items": [redemption_public(r, customer.external_ref) for r in found],
    }
