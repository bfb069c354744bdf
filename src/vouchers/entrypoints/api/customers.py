"""Routes for customers: create, list, read and update the accounts that redeem vouchers.

A customer is addressed by its external reference (``/customers/{ref}``). A principal
confined to one customer (a customer-scoped API key, a portal session) reads only its own
account: any other reference is answered 404 whether it exists or not, so existence does
not leak. Listing, creating and updating customers are for unconfined principals only
(a confined one could otherwise mark itself KYC-verified or unblock itself), and so is
setting a customer's portal password (``POST /customers/{ref}/password``).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from vouchers.bootstrap import App
from vouchers.domain.access import Permission, Principal, authorize
from vouchers.domain.customers import EXTERNAL_REF, Customer, CustomerStatus
from vouchers.entrypoints.api.deps import API_PREFIX, AppDep, actor_name, require
from vouchers.entrypoints.api.schemas_catalogue import PRINTABLE
from vouchers.errors import CustomerNotFoundError, ValidationError
from vouchers.services import customers as service

router = APIRouter(tags=["customers"])

MAX_PAGE = 1000

# Free text that reaches the database: printable, no control characters (PostgreSQL
# refuses NUL in text, and a 500 for bad input is never acceptable).
Reference = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=PRINTABLE)]
ExternalRef = Annotated[str, StringConstraints(pattern=EXTERNAL_REF.pattern)]
CustomerRef = Annotated[
    str, Path(max_length=200, pattern=PRINTABLE, description="The customer's external reference.")
]


def customer_public(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "external_ref": customer.external_ref,
        "name": customer.name,
        "phone": customer.phone,
        "email": customer.email,
        "kyc_verified": customer.kyc_verified,
        "status": str(customer.status),
        "created_at": None if customer.created_at is None else customer.created_at.isoformat(),
        "created_by": customer.created_by,
    }


def load_customer(ref: str, principal: Principal, permission: Permission, *, app: App) -> Customer:
    """The customer ``ref`` if ``principal`` may do ``permission`` on it.

    Raises CustomerNotFoundError (404) for an unknown reference, and for any customer but
    its own when the principal is confined to one; PermissionDeniedError (403) otherwise.
    """
    if not EXTERNAL_REF.match(ref.strip()):
        raise CustomerNotFoundError(f"no customer {ref[:70]!r}")
    customer = service.get_customer(ref.strip(), uow=app.uow())
    if principal.customer_id is not None and customer.id != principal.customer_id:
        raise CustomerNotFoundError(f"no customer {ref!r}")
    authorize(principal, permission, customer_id=customer.id)
    return customer


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_ref: ExternalRef = Field(description="The host platform's account number.")
    name: Annotated[str, StringConstraints(max_length=200, pattern=PRINTABLE)] = ""
    phone: Annotated[str, StringConstraints(max_length=30, pattern=PRINTABLE)] | None = None
    email: Annotated[str, StringConstraints(max_length=254, pattern=PRINTABLE)] | None = None
    kyc_verified: bool = False


class CustomerUpdate(BaseModel):
    """The fields to change; ``null`` clears a phone number or e-mail address."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(max_length=200, pattern=PRINTABLE)] | None = None
    phone: Annotated[str, StringConstraints(max_length=30, pattern=PRINTABLE)] | None = None
    email: Annotated[str, StringConstraints(max_length=254, pattern=PRINTABLE)] | None = None
    kyc_verified: bool | None = None
    status: CustomerStatus | None = None


@router.post("/customers", status_code=status.HTTP_201_CREATED)
def create_customer(
    body: CustomerCreate,
    request: Request,
    response: Response,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.CUSTOMERS_WRITE))],
) -> dict[str, Any]:
    """Create an active customer; 409 ``duplicate`` if the reference is taken."""
    authorize(principal, Permission.CUSTOMERS_WRITE)  # confined principals create none
    created = service.create_customer(
        body.external_ref,
        uow=app.uow(),
        clock=app.clock,
        actor=actor_name(principal),
        name=body.name,
        phone=body.phone or None,
        email=body.email or None,
        kyc_verified=body.kyc_verified,
    )
    response.headers["Location"] = f"{API_PREFIX}/customers/{quote(created.external_ref, safe='')}"
    return customer_public(created)


class CustomerPasswordSet(BaseModel):
    """The customer's new portal password (12-1024 characters)."""

    model_config = ConfigDict(extra="forbid")

    password: Annotated[str, Field(min_length=1, max_length=1024)]


@router.post(
    "/customers/{ref}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Set or reset a customer's portal password",
)
def set_customer_password(
    ref: CustomerRef,
    body: CustomerPasswordSet,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.CUSTOMERS_WRITE))],
) -> None:
    """Set the password the customer signs in to the portal with, replacing any earlier one
    (the customer's sessions signed in with the old one last until they expire)."""
    authorize(principal, Permission.CUSTOMERS_WRITE)  # confined principals set none
    customer = load_customer(ref, principal, Permission.CUSTOMERS_WRITE, app=app)
    service.set_customer_password(
        customer.require_id(),
        body.password,
        uow=app.uow(),
        passwords=app.passwords,
        clock=app.clock,
        actor=actor_name(principal),
    )


@router.get("/customers")
def list_customers(
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.CUSTOMERS_READ))],
    after: Annotated[str, Query(max_length=200, pattern=r"^[^\x00]*$")] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> dict[str, Any]:
    """Customers in external-reference order; pass ``next_after`` as ``after`` for more."""
    authorize(principal, Permission.CUSTOMERS_READ)  # confined principals list none
    found = service.list_customers(uow=app.uow(), after=after, limit=limit)
    return {
        "items": [customer_public(c) for c in found],
        "next_after": found[-1].external_ref if len(found) == limit else None,
    }


@router.get("/customers/{ref}")
def get_customer(
    ref: CustomerRef,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.CUSTOMERS_READ))],
) -> dict[str, Any]:
    """One customer (balances are under ``/customers/{ref}/wallets``, a separate right)."""
    return customer_public(load_customer(ref, principal, Permission.CUSTOMERS_READ, app=app))


@router.patch("/customers/{ref}")
def update_customer(
    ref: CustomerRef,
    body: CustomerUpdate,
    app: AppDep,
    principal: Annotated[Principal, Depends(require(Permission.CUSTOMERS_WRITE))],
) -> dict[str, Any]:
    """Change a customer's name, contacts, KYC flag or status (``active``/``blocked``)."""
    authorize(principal, Permission.CUSTOMERS_WRITE)  # confined principals change none
    changes = body.model_dump(exclude_unset=True)
    for name in ("name", "kyc_verified", "status"):
        if name in changes and changes[name] is None:
            raise ValidationError(f"{name} cannot be null")
    if not changes:
        raise ValidationError("say what to change: name, phone, email, kyc_verified, status")
    for name in ("phone", "email"):
        if name in changes and changes[name] is not None:
            changes[name] = changes[name].strip() or None
    customer = load_customer(ref, principal, Permission.CUSTOMERS_WRITE, app=app)
    updated = service.update_customer(
        customer.require_id(), changes, uow=app.uow(), clock=app.clock, actor=actor_name(principal)
    )
    return customer_public(updated)
