"""The SQL repository of business definitions (restrictions on the life cycle)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from vouchers.adapters.db import schema
from vouchers.domain.lifecycle import BusinessDefinition, Process, parse_states
from vouchers.errors import DefinitionNotFoundError, DuplicateError

_T = schema.business_definitions


class SqlDefinitionRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, definition: BusinessDefinition, *, at: datetime, by: str) -> BusinessDefinition:
        values = {
            "alternative_code": definition.alternative_code,
            "name": definition.name,
            "active": False,
            "restrictions": {
                str(process): sorted(states) for process, states in definition.restrictions.items()
            },
            "created_at": at,
            "created_by": by,
        }
        try:
            with self._c.begin_nested():
                new_id = self._c.execute(insert(_T).values(values).returning(_T.c.id)).scalar_one()
        except IntegrityError as exc:
            raise DuplicateError(
                f"a business definition with alternative code {definition.alternative_code} exists"
            ) from exc
        return self.get(int(new_id))

    def get(self, ref: int | str) -> BusinessDefinition:
        where = _T.c.id == ref if isinstance(ref, int) else _T.c.alternative_code == ref.upper()
        row = self._c.execute(select(_T).where(where)).first()
        if row is None:
            raise DefinitionNotFoundError(f"no business definition {ref!r}")
        return _from_row(row)

    def active(self) -> BusinessDefinition | None:
        row = self._c.execute(select(_T).where(_T.c.active.is_(True))).first()
        return None if row is None else _from_row(row)

    def set_active(self, definition_id: int | None) -> None:
        # Deactivate first: the partial unique index allows one active row at any moment.
        self._c.execute(update(_T).where(_T.c.active.is_(True)).values(active=False))
        if definition_id is not None:
            self._c.execute(update(_T).where(_T.c.id == definition_id).values(active=True))

    def all(self) -> list[BusinessDefinition]:
        return [_from_row(row) for row in self._c.execute(select(_T).order_by(_T.c.id))]


def _from_row(row: Any) -> BusinessDefinition:
    return BusinessDefinition(
        id=row.id,
        alternative_code=row.alternative_code,
        name=row.name,
        active=row.active,
        restrictions={
            Process(process): parse_states(states) for process, states in row.restrictions.items()
        },
    )
