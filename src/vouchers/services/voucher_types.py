"""Use cases for voucher types: create, read, list."""

from __future__ import annotations

import dataclasses

from vouchers.domain.voucher_types import VoucherType
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
