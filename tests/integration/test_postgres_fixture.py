"""The database fixtures themselves: fresh, empty, isolated databases on both back ends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from support.postgres import PostgresServer


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


def _table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "fixture_probe",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(100), nullable=False),
    )


def test_database_is_empty_and_usable(engine: sa.Engine) -> None:
    assert sa.inspect(engine).get_table_names() == []
    metadata = sa.MetaData()
    table = _table(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), [{"label": "alpha"}, {"label": "beta"}])
    with engine.connect() as conn:
        labels = conn.execute(sa.select(table.c.label).order_by(table.c.id)).scalars().all()
    assert labels == ["alpha", "beta"]


_seen_postgres_databases: dict[int, str] = {}


@pytest.mark.parametrize("run", [1, 2])
def test_each_postgres_test_gets_its_own_database(postgres_url: str, run: int) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            name = conn.execute(sa.text("SELECT current_database()")).scalar_one()
            # Empty although the other run created a table: not the same database.
            assert sa.inspect(conn).get_table_names() == []
            conn.execute(sa.text("CREATE TABLE claimed_by (run integer)"))
    finally:
        engine.dispose()
    assert name == sa.make_url(postgres_url).database
    assert name.startswith("t_")
    _seen_postgres_databases[run] = name
    assert len(set(_seen_postgres_databases.values())) == len(_seen_postgres_databases)


def test_dump_contains_inserted_data(postgres_server: PostgresServer, postgres_url: str) -> None:
    marker = f"dump-me-{uuid.uuid4().hex}"
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE notes (body text NOT NULL)"))
            conn.execute(sa.text("INSERT INTO notes (body) VALUES (:body)"), {"body": marker})
    finally:
        engine.dispose()
    dump = postgres_server.dump(sa.make_url(postgres_url).database or "")
    assert b"CREATE TABLE public.notes" in dump
    assert marker.encode() in dump


def test_dropped_database_is_gone(postgres_server: PostgresServer) -> None:
    with postgres_server.temporary_database() as url:
        name = sa.make_url(url).database
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        # The pooled connection is still open: dropping must terminate it, not hang or fail.
        postgres_server.drop_database(name or "")
        engine.dispose()
    admin = sa.create_engine(postgres_server.url("postgres"))
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar_one()
    finally:
        admin.dispose()
    assert exists == 0
