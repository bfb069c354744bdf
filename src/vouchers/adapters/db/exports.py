"""The SQL side of exports: a consistent snapshot, pages of sealed secrets in number order
(one server-side cursor on PostgreSQL, keyset pages on SQLite), and the ranges of voucher
numbers each export run wrote.

On PostgreSQL the export's transaction runs at ``REPEATABLE READ``, so the count and every
page see the same vouchers; on SQLite the transaction holds the write lock (``BEGIN
IMMEDIATE``), which gives the same guarantee by excluding other writers for the export's
duration. What a run exported is stored as ``export_ranges`` rows (a handful per run, not
one history row per voucher: docs/exports.md, "History of an export"), written in the same
transaction as the run's file, so a failed export records nothing.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Select, func, insert, select

from vouchers.adapters.db import schema
from vouchers.adapters.db.transitions import matching
from vouchers.services.ports import ExportRecord, SealedVoucher, VoucherCriteria

_V = schema.vouchers
_E = schema.export_ranges
_R = schema.process_runs
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
            # Timestamps read in UTC need no conversion to the session's zone (a third of
            # the cost of reading a page); every comparison is between absolute moments.
            self._c.exec_driver_sql("SET LOCAL TimeZone = 'UTC'")

    def count(self, criteria: VoucherCriteria) -> int:
        query = select(func.count()).select_from(_V).where(_with_secret(criteria))
        return int(self._c.execute(query).scalar_one())

    def pages(
        self, criteria: VoucherCriteria, *, size: int
    ) -> Generator[Sequence[SealedVoucher], None, None]:
        query = select(*_PAGE_COLUMNS).where(_with_secret(criteria)).order_by(_V.c.number)
        if self._c.dialect.name == "postgresql":
            yield from self._cursor_pages(query, size)
            return
        after = 0
        while True:  # keyset pages; rows are named tuples of exactly SealedVoucher's fields
            page = self._c.execute(query.where(_V.c.number > after).limit(size)).all()
            if not page:
                return
            yield cast(Sequence[SealedVoucher], page)
            after = page[-1].number

    def _cursor_pages(
        self, query: Select[Any], size: int
    ) -> Generator[Sequence[SealedVoucher], None, None]:
        """The hot path of a large export on PostgreSQL: one query through a server-side
        cursor, read with the driver's binary protocol as plain tuples (no Row, no result
        processor per value). One query, not keyset pages: the state as of now is a CASE
        the planner cannot estimate, and with a keyset bound it sorted the whole lot again
        for every page (0.5 s a page of a million-voucher lot)."""
        compiled = query.compile(
            dialect=self._c.dialect, compile_kwargs={"render_postcompile": True}
        )
        driver: Any = self._c.connection.dbapi_connection
        with driver.cursor(name="vouchers_export", binary=True) as cursor:
            cursor.execute(str(compiled), compiled.params)
            while page := cursor.fetchmany(size):
                yield cast(Sequence[SealedVoucher], page)

    def record(self, run_id: int, ranges: Sequence[tuple[int, int]], *, at: datetime) -> int:
        if ranges:
            self._c.execute(
                insert(_E),
                [
                    {
                        "run_id": run_id,
                        "first_number": first,
                        "last_number": last,
                        "exported_at": at,
                    }
                    for first, last in ranges
                ],
            )
        return sum(last - first + 1 for first, last in ranges)

    def covering(self, number: int) -> list[ExportRecord]:
        query = (
            select(_E.c.run_id, _E.c.exported_at, _R.c.requested_by)
            .join(_R, _R.c.id == _E.c.run_id)
            .where(_E.c.first_number <= number, _E.c.last_number >= number)
            .order_by(_E.c.exported_at, _E.c.run_id)
        )
        return [
            ExportRecord(row.run_id, row.exported_at, row.requested_by)
            for row in self._c.execute(query)
        ]


def _with_secret(criteria: VoucherCriteria) -> ColumnElement[bool]:
    return matching(criteria) & _V.c.ciphertext.is_not(None)
