"""Customers in and out of the ``customers`` table."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from vouchers.adapters.db import schema
from vouchers.domain.customers import Customer, CustomerStatus
from vouchers.errors import CustomerNotFoundError, DuplicateError

_T = schema.customers


class SqlCustomerRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, customer: Customer) -> Customer:
        values = _values(customer)
        values["created_at"] = customer.created_at
        values["created_by"] = customer.created_by or "system"
        try:
            with self._c.begin_nested():
                new_id = self._c.execute(insert(_T).values(values).returning(_T.c.id)).scalar_one()
        except IntegrityError as exc:
            raise DuplicateError(f"customer {customer.external_ref} exists") from exc
        return self.get(int(new_id))

    def get(self, ref: int | str) -> Customer:
        found = self._one(_T.c.id == ref if isinstance(ref, int) else _T.c.external_ref == ref)
        if found is None:
            raise CustomerNotFoundError(f"no customer {ref!r}")
        return found

    def find(self, external_ref: str) -> Customer | None:
        return self._one(_T.c.external_ref == external_ref)

    def lock(self, customer_id: int) -> None:
        # SQLite: BEGIN IMMEDIATE already holds the database's one write lock.
        if self._c.dialect.name != "sqlite":
            self._c.execute(select(_T.c.id).where(_T.c.id == customer_id).with_for_update())

    def update(self, customer: Customer) -> None:
        self._c.execute(update(_T).where(_T.c.id == customer.id).values(_values(customer)))

    def list(self, *, after: str = "", limit: int = 100) -> builtins.list[Customer]:
        query = select(_T).where(_T.c.external_ref > after).order_by(_T.c.external_ref)
        return [_from_row(row) for row in self._c.execute(query.limit(limit))]

    def _one(self, where: Any) -> Customer | None:
        row = self._c.execute(select(_T).where(where)).first()
        return None if row is None else _from_row(row)


def _values(customer: Customer) -> dict[str, Any]:
    return {
        "external_ref": customer.external_ref,
        "name": customer.name,
        "phone": customer.phone,
        "email": customer.email,
        "kyc_verified": customer.kyc_verified,
        "status": customer.status.value,
    }


def _from_row(row: Any) -> Customer:
    return Customer(
        id=row.id,
        external_ref=row.external_ref,
        name=row.name,
        phone=row.phone,
        email=row.email,
        kyc_verified=row.kyc_verified,
        status=CustomerStatus(row.status),
        created_at=row.created_at,
        created_by=row.created_by,
    )
