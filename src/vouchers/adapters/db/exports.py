"""The SQL side of exports: a consistent snapshot, keyset pages of sealed secrets, and
one set-based history row per exported voucher.

On PostgreSQL the export's transaction runs at ``REPEATABLE READ``: every page and the
final ``INSERT … SELECT`` of history see the same snapshot, so a voucher redeemed while
the file is written is still in the file *and* in the history, never in only one. On
SQLite the transaction holds the write lock (``BEGIN IMMEDIATE``), which gives the same
guarantee by excluding other writers for the export's duration.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import BigInteger, ColumnElement, Connection, func, insert, literal, null, select

from vouchers.adapters.db import schema
from vouchers.adapters.db.transitions import matching
from vouchers.services.ports import SealedVoucher, VoucherCriteria

_V = schema.vouchers
_H = schema.voucher_history
_PAGE_COLUMNS = (
    _V.c.number,
    _V.c.ciphertext,
    _V.c.data_key_id,
    _V.c.lookup_digest,
    _V.c.lookup_key_id,
    _V.c.type_id,
    _V.c.value_minor,
    _V.c.extra_value_minor,
    _V.c.currency,
    _V.c.effective_at,
    _V.c.expires_at,
)


class SqlExportRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def snapshot(self) -> None:
        if self._c.dialect.name == "postgresql":
            self._c.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")

    def count(self, criteria: VoucherCriteria) -> int:
        query = select(func.count()).select_from(_V).where(_with_secret(criteria))
        return int(self._c.execute(query).scalar_one())

    def page(self, criteria: VoucherCriteria, *, after: int, limit: int) -> Sequence[SealedVoucher]:
        query = (
            select(*_PAGE_COLUMNS)
            .where(_with_secret(criteria), _V.c.number > after)
            .order_by(_V.c.number)
            .limit(limit)
        )
        # Rows are named tuples of exactly SealedVoucher's fields; no copy per row.
        return cast(Sequence[SealedVoucher], self._c.execute(query).all())

    def record(
        self, criteria: VoucherCriteria, *, run_id: int, actor: str, at: datetime, note: str
    ) -> int:
        source = select(
            _V.c.number,
            literal("secret"),
            literal("export"),
            null(),
            null(),
            literal(at, schema.UtcDateTime()),
            literal(actor),
            literal(run_id, BigInteger()),
            literal(note),
        ).where(_with_secret(criteria))
        columns = (
            "voucher_number",
            "field",
            "process",
            "from_value",
            "to_value",
            "at",
            "by",
            "run_id",
            "note",
        )
        statement = insert(_H).from_select(columns, source)
        if self._c.dialect.name == "postgresql":  # psycopg reports no rowcount for this
            recorded = statement.returning(_H.c.id).cte("recorded")
            return int(self._c.execute(select(func.count()).select_from(recorded)).scalar_one())
        return int(self._c.execute(statement).rowcount)


def _with_secret(criteria: VoucherCriteria) -> ColumnElement[bool]:
    return matching(criteria) & _V.c.ciphertext.is_not(None)
