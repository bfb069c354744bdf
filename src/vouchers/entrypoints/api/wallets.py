"""Routes for wallets: a customer's balances and debits by the host platform spending them.

``GET /customers/{ref}/wallets`` (``wallets.read``) and ``POST /customers/{ref}/debits``
(``wallets.debit``, with an optional ``Idempotency-Key``). A principal confined to a
customer reaches only its own wallets; any other reference is answered 404, as if it did
not exist. Every amount is given twice: in minor units (``paid_minor``) and formatted
(``paid``: ``"12.50 EUR"``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Response, status
from pydantic import BaseModel, ConfigDict, Field

from vouchers.domain.access import Permission, Principal
from vouchers.domain.ledger import DebitOrder, Wallet
from vouchers.domain.money import format_minor
from vouchers.entrypoints.api.customers import CustomerRef, Reference, load_customer
from vouchers.entrypoints.api.deps import AppDep, actor_name, require
from vouchers.services import customers as customer_service
from vouchers.services import wallets as service
from vouchers.services.wallets import DebitRequest, DebitResult

router = APIRouter(tags=["wallets"])

MAX_IDEMPOTENCY_KEY = 100
REPLAYED_HEADER = "Idempotent-Replayed"
# Major units as text, never a float; twelve digits keep every sum far inside a 64-bit
# column, so an absurd amount is a 422 here rather than an overflow in the database.
AMOUNT = r"^[0-9]{1,12}(\.[0-9]{1,6})?$"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY,
        description="Send the request again with the same key: its first answer.",
    ),
]


def amounts(code: str, **minor: int) -> dict[str, Any]:
    """Each amount twice: ``<name>`` formatted and ``<name>_minor`` in minor units."""
    out: dict[str, Any] = {}
    for name, value in minor.items():
        out[name] = format_minor(value, code)
        out[f"{name}_minor"] = value
    return out


def balance(code: str, paid_minor: int, bonus_minor: int) -> dict[str, Any]:
    """One currency's balances: paid, bonus and their total."""
    return {
        "currency": code,
        **amounts(code, paid=paid_minor, bonus=bonus_minor, total=paid_minor + bonus_minor),
    }


def wallet_public(wallet: Wallet) -> dict[str, Any]:
    return balance(wallet.currency, wallet.paid_minor, wallet.bonus_minor)


class DebitCreate(BaseModel):
    """Spend ``amount`` (major units, as a string: ``"5.00"``) of ``currency``."""

    model_config = ConfigDict(extra="forbid")

    amount: str = Field(pattern=AMOUNT, examples=["5.00"])
    currency: str = Field(pattern=r"^[A-Za-z]{3}$", examples=["EUR"])
    reference: Reference | None = None
    order: DebitOrder | None = Field(
        default=None, description="Which balance goes first; default the debit_order setting."
    )


def debit_public(result: DebitResult) -> dict[str, Any]:
    code = result.currency
    return {
        "entry_id": result.entry_id,
        "customer": result.customer,
        "currency": code,
        **amounts(
            code,
            amount=result.amount_minor,
            from_bonus=result.bonus_minor,
            from_paid=result.paid_minor,
        ),
        "reference": result.reference,
        "balance": balance(code, result.balance_paid_minor, result.balance_bonus_minor),
        "replayed": result.replayed,
    }


@router.get("/customers/{ref}/wallets")
def list_wallets(
    ref: CustomerRef,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.WALLETS_READ))],
) -> dict[str, Any]:
    """A customer's paid and bonus balances, one per currency it ever held."""
    customer = load_customer(ref, principal, Permission.WALLETS_READ, app=app)
    _, held = customer_service.customer_wallets(customer.require_id(), uow=app.uow())
    return {"customer": customer.external_ref, "wallets": [wallet_public(w) for w in held]}


@router.post(
    "/customers/{ref}/debits",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "A replay of an earlier request with the same key."}},
)
def create_debit(
    body: DebitCreate,
    response: Response,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.WALLETS_DEBIT))],
    ref: CustomerRef,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Take an amount out of the wallet, bonus first unless the setting or ``order`` says
    otherwise; 409 ``insufficient-funds`` when the wallet holds less (nothing changes)."""
    customer = load_customer(ref, principal, Permission.WALLETS_DEBIT, app=app)
    actor = actor_name(principal)
    result = service.debit_wallet(
        DebitRequest(
            customer=customer.external_ref,
            amount=body.amount,
            currency=body.currency,
            reference=body.reference,
            order=body.order,
            caller=actor,
            idempotency_key=idempotency_key,
        ),
        uow=app.uow(),
        clock=app.clock,
        actor=actor,
    )
    if result.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers[REPLAYED_HEADER] = "true"
    return debit_public(result)
