"""Use cases for customers: create, read, list, update (KYC, block), their balances, and the
portal password staff set for them (signing in with it is ``vouchers.services.portal``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from vouchers.domain.access import PrincipalKind, check_password
from vouchers.domain.customers import Customer, CustomerStatus
from vouchers.domain.ledger import Wallet
from vouchers.errors import ValidationError
from vouchers.services.ports import Clock, PasswordHasher, UnitOfWork

UPDATABLE = frozenset({"name", "phone", "email", "kyc_verified", "status"})


def create_customer(
    external_ref: str,
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: str,
    name: str = "",
    phone: str | None = None,
    email: str | None = None,
    kyc_verified: bool = False,
) -> Customer:
    """Store a new active customer; raises ValidationError or DuplicateError."""
    customer = Customer(
        external_ref=external_ref.strip(),
        name=name.strip(),
        phone=phone,
        email=email,
        kyc_verified=kyc_verified,
        created_at=clock(),
        created_by=actor,
    )
    with uow:
        stored = uow.customers.add(customer)
        uow.commit()
    return stored


def get_customer(ref: int | str, *, uow: UnitOfWork) -> Customer:
    """By id or external reference; raises CustomerNotFoundError."""
    with uow:
        return uow.customers.get(_ref(ref))


def _ref(ref: int | str) -> int | str:
    return ref.strip() if isinstance(ref, str) else ref


def list_customers(*, uow: UnitOfWork, after: str = "", limit: int = 100) -> list[Customer]:
    """A page of customers in external-reference order after ``after``."""
    with uow:
        return uow.customers.list(after=after, limit=limit)


def update_customer(
    ref: int | str,
    changes: dict[str, Any],
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: str,
) -> Customer:
    """Change a customer's name, contacts, KYC flag or status; raises ValidationError.

    The change (who, when, old and new values) goes to the outbox as ``customer.updated``.
    """
    refused = set(changes) - UPDATABLE
    if refused:
        raise ValidationError("cannot change a customer's " + ", ".join(sorted(refused)))
    if "status" in changes:
        changes = {**changes, "status": CustomerStatus(changes["status"])}
    with uow:
        current = uow.customers.get(_ref(ref))
        updated = dataclasses.replace(current, **changes)
        uow.customers.update(updated)
        changed = {
            name: {"old": str(getattr(current, name)), "new": str(getattr(updated, name))}
            for name in sorted(changes)
            if getattr(current, name) != getattr(updated, name)
        }
        uow.events.add(
            "customer.updated",
            {"customer": current.external_ref, "by": actor, "changes": changed},
            at=clock(),
        )
        uow.commit()
    return updated


def customer_wallets(ref: int | str, *, uow: UnitOfWork) -> tuple[Customer, list[Wallet]]:
    """A customer and its wallets (one per currency it ever held)."""
    with uow:
        customer = uow.customers.get(_ref(ref))
        return customer, uow.ledger.wallets(customer.require_id())


def set_customer_password(
    ref: int | str,
    password: str,
    *,
    uow: UnitOfWork,
    passwords: PasswordHasher,
    clock: Clock,
    actor: str,
) -> Customer:
    """Set, or reset, the password a customer signs in to the portal with (Argon2-hashed).

    Goes to the outbox as ``customer.password_set`` (who, and whether one was replaced;
    never the password). Raises ValidationError for a password of fewer than 12 or more
    than 1024 characters, CustomerNotFoundError.
    """
    check_password(password)
    try:
        password.encode()
    except UnicodeEncodeError:
        raise ValidationError("a password must be valid Unicode text") from None
    new_hash = passwords.hash(password)
    now = clock()
    with uow:
        customer = uow.customers.get(_ref(ref))
        customer_id = customer.require_id()
        uow.customers.lock(customer_id)  # two staff setting it at once: one after the other
        replaced = uow.customers.password_hash(customer_id) is not None
        uow.customers.set_password_hash(customer_id, new_hash, at=now, by=actor)
        # A new password signs the customer out of every portal session.
        uow.sessions.revoke_all(PrincipalKind.CUSTOMER, customer.external_ref, at=now)
        uow.events.add(
            "customer.password_set",
            {"customer": customer.external_ref, "by": actor, "replaced": replaced},
            at=now,
        )
        uow.commit()
    return customer
