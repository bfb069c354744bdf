"""The SQL unit of work: one connection and one transaction per ``with`` block."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from vouchers.adapters.db.access import SqlApiKeyRepository, SqlStaffUserRepository
from vouchers.adapters.db.customers import SqlCustomerRepository
from vouchers.adapters.db.dashboard import SqlDashboardRepository
from vouchers.adapters.db.definitions import SqlDefinitionRepository
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
from vouchers.errors import StorageError


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
    dashboard: SqlDashboardRepository

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None

    def __enter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already open")
        try:
            connection = self.engine.connect()
            connection.begin()
        except OperationalError as exc:
            raise StorageError(f"cannot reach the database: {exc.orig}") from exc
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
        if isinstance(exc, DBAPIError):
            raise StorageError(f"database error: {exc.orig}") from exc

    @property
    def connection(self) -> Connection:
        """The open connection (for adapters that need raw SQL)."""
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection

    def commit(self) -> None:
        """Commit the open transaction."""
        self.connection.commit()
