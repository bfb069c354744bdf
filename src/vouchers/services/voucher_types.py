"""Use cases for voucher types: create, read, list, update."""

from __future__ import annotations

import dataclasses
from typing import Any

from vouchers.domain.voucher_types import VoucherType
from vouchers.errors import ValidationError
from vouchers.services.ports import Clock, UnitOfWork


def create_voucher_type(
    voucher_type: VoucherType, *, uow: UnitOfWork, clock: Clock, actor: str
) -> VoucherType:
    """Store a new voucher type; raises DuplicateError if its alternative code is taken."""
    draft = dataclasses.replace(voucher_type, created_at=clock(), created_by=actor)
    with uow:
        saved = uow.voucher_types.add(draft)
        uow.commit()
    return saved


def get_voucher_type(ref: int | str, *, uow: UnitOfWork) -> VoucherType:
    """A type by id or alternative code; raises VoucherTypeNotFoundError."""
    with uow:
        return uow.voucher_types.get(ref)


def list_voucher_types(*, uow: UnitOfWork) -> list[VoucherType]:
    """Every voucher type, by alternative code."""
    with uow:
        return uow.voucher_types.list()


UPDATABLE = frozenset(
    {
        "name",
        "notes",
        "products",
        "product_types",
        "default_payment_type",
        "validity_days",
        "rules",
    }
)
"""What may change on a type: nothing that issued vouchers or their codes depend on."""


def update_voucher_type(ref: int | str, changes: dict[str, Any], *, uow: UnitOfWork) -> VoucherType:
    """Change the updatable fields of a type; raises ValidationError for any other field.

    Vouchers already generated keep what they copied from the type.
    """
    refused = set(changes) - UPDATABLE
    if refused:
        raise ValidationError(
            "a voucher type's " + ", ".join(sorted(refused)) + " cannot change once created"
        )
    with uow:
        current = uow.voucher_types.get(ref)
        updated = dataclasses.replace(current, **changes)  # validates like a new type
        uow.voucher_types.update(updated)
        uow.commit()
        return uow.voucher_types.get(current.alternative_code)
