"""The SQL unit of work: one connection and one transaction per ``with`` block."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, DBAPIError, OperationalError

from vouchers.adapters.db.access import (
    SqlApiKeyRepository,
    SqlSessionRepository,
    SqlStaffUserRepository,
)
from vouchers.adapters.db.customers import SqlCustomerRepository
from vouchers.adapters.db.dashboard import SqlDashboardRepository
from vouchers.adapters.db.definitions import SqlDefinitionRepository
from vouchers.adapters.db.engine import SQLITE_BUSY_TIMEOUT_MS, writer_gate
from vouchers.adapters.db.exports import SqlExportRepository
from vouchers.adapters.db.ledger import SqlLedgerRepository
from vouchers.adapters.db.redemptions import SqlRedemptionRepository
from vouchers.adapters.db.repositories import (
    SqlCounterRepository,
    SqlLotRepository,
    SqlVoucherRepository,
    SqlVoucherTypeRepository,
)
from vouchers.adapters.db.runs import SqlRunRepository
from vouchers.adapters.db.safeguards import (
    SqlAttemptRepository,
    SqlEventRepository,
    SqlIdempotencyRepository,
    SqlSettingRepository,
)
from vouchers.errors import StorageError, ValidationError


class SqlUnitOfWork:
    """Re-enterable: every ``with uow:`` begins a new transaction on a pooled connection.

    Leaving the block without ``commit()`` rolls back. Driver errors that escape the
    repositories become ``StorageError``.
    """

    voucher_types: SqlVoucherTypeRepository
    lots: SqlLotRepository
    vouchers: SqlVoucherRepository
    counters: SqlCounterRepository
    definitions: SqlDefinitionRepository
    runs: SqlRunRepository
    exports: SqlExportRepository
    customers: SqlCustomerRepository
    ledger: SqlLedgerRepository
    redemptions: SqlRedemptionRepository
    idempotency: SqlIdempotencyRepository
    settings: SqlSettingRepository
    attempts: SqlAttemptRepository
    events: SqlEventRepository
    users: SqlStaffUserRepository
    api_keys: SqlApiKeyRepository
    sessions: SqlSessionRepository
    dashboard: SqlDashboardRepository

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._gate = writer_gate(engine)
        self._gated = False

    def __enter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already open")
        if self._gate is not None:
            # Queue on the process's SQLite writer lock; after the busy timeout, go on and
            # let SQLite's own wait decide (a unit of work opened inside another, say).
            self._gated = self._gate.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            connection = self.engine.connect()
            connection.begin()
        except OperationalError as exc:
            self._open_gate()
            raise StorageError(f"cannot reach the database: {exc.orig}") from exc
        except BaseException:
            self._open_gate()
            raise
        self._connection = connection
        self.voucher_types = SqlVoucherTypeRepository(connection)
        self.lots = SqlLotRepository(connection)
        self.vouchers = SqlVoucherRepository(connection)
        self.counters = SqlCounterRepository(connection)
        self.definitions = SqlDefinitionRepository(connection)
        self.runs = SqlRunRepository(connection)
        self.exports = SqlExportRepository(connection)
        self.customers = SqlCustomerRepository(connection)
        self.ledger = SqlLedgerRepository(connection)
        self.redemptions = SqlRedemptionRepository(connection)
        self.idempotency = SqlIdempotencyRepository(connection)
        self.settings = SqlSettingRepository(connection)
        self.attempts = SqlAttemptRepository(connection)
        self.events = SqlEventRepository(connection)
        self.users = SqlStaffUserRepository(connection)
        self.api_keys = SqlApiKeyRepository(connection)
        self.sessions = SqlSessionRepository(connection)
        self.dashboard = SqlDashboardRepository(connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.rollback()
        finally:
            connection.close()
            self._open_gate()
        if isinstance(exc, DataError) and "NUL" in str(exc.orig):
            # PostgreSQL stores no NUL character; the entry points refuse them, this is
            # the net under any text they let through: bad input, not a storage failure.
            raise ValidationError("text must not contain NUL (0x00) characters") from exc
        if isinstance(exc, DBAPIError):
            raise StorageError(f"database error: {exc.orig}") from exc

    def _open_gate(self) -> None:
        if self._gated:
            self._gated = False
            assert self._gate is not None
            self._gate.release()

    @property
    def connection(self) -> Connection:
        """The open connection (for adapters that need raw SQL)."""
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection

    def commit(self) -> None:
        """Commit the open transaction."""
        self.connection.commit()
