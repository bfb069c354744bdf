"""Customers in and out of the ``customers`` table, with their portal passwords
(``customer_passwords``) and the signed sign-in links they used (``portal_link_uses``)."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from vouchers.adapters.db import schema
from vouchers.domain.customers import Customer, CustomerStatus
from vouchers.errors import CustomerNotFoundError, DuplicateError

_T = schema.customers
_P = schema.customer_passwords
_L = schema.portal_link_uses


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

    def password_hash(self, customer_id: int) -> str | None:
        found = self._c.execute(
            select(_P.c.password_hash).where(_P.c.customer_id == customer_id)
        ).scalar_one_or_none()
        return None if found is None else str(found)

    def set_password_hash(
        self, customer_id: int, password_hash: str, *, at: datetime, by: str
    ) -> None:
        values = {"password_hash": password_hash, "changed_at": at, "changed_by": by}
        changed = self._c.execute(
            update(_P).where(_P.c.customer_id == customer_id).values(values)
        ).rowcount
        if not changed:
            self._c.execute(insert(_P).values(customer_id=customer_id, **values))

    def claim_link(
        self, use_digest: bytes, *, customer_id: int, at: datetime, expires_at: datetime
    ) -> bool:
        self._c.execute(delete(_L).where(_L.c.expires_at < at))
        row = {
            "use_digest": use_digest,
            "customer_id": customer_id,
            "used_at": at,
            "expires_at": expires_at,
        }
        try:
            with self._c.begin_nested():
                self._c.execute(insert(_L).values(row))
        except IntegrityError:
            return False
        return True

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
