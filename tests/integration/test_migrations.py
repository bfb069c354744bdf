"""Migrations: an empty database upgrades to head on both; a stale one is refused."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from vouchers.adapters.db.engine import make_engine
from vouchers.adapters.db.migrate import current_revision, ensure_schema, head_revision, upgrade
from vouchers.adapters.db.schema import metadata
from vouchers.errors import StorageError


def test_an_empty_database_upgrades_to_head(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert {"voucher_types", "lots", "vouchers", "voucher_history", "counters"} <= tables
        with engine.connect() as conn:
            counters = dict(conn.execute(text("SELECT name, next_value FROM counters")).all())
        assert counters == {"voucher": 1, "lot": 1}
        upgrade(engine)  # a second upgrade is a no-op
    finally:
        engine.dispose()


def test_a_database_behind_head_is_refused_until_upgraded(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
        with pytest.raises(StorageError, match="vouchers db upgrade"):
            ensure_schema(engine)
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_full_sync_and_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_the_migrations_build_exactly_the_schema_the_code_declares(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()
