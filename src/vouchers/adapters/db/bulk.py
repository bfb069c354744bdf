"""The hot path of generation: inserting a chunk of new vouchers straight through the driver.

PostgreSQL takes the rows by binary ``COPY``; SQLite by one ``executemany`` with
``ON CONFLICT (lookup_digest) DO NOTHING``. Either way the few rows whose digest already
exists (a collision, only likely with deliberately weak formats) are reported back by
offset so the service can draw new codes for them; nothing else is ever skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.dialects.sqlite import DATETIME

from vouchers.services.ports import NewVouchers

COLUMNS = (
    "number",
    "lot_id",
    "type_id",
    "state",
    "value_minor",
    "extra_value_minor",
    "currency",
    "effective_at",
    "expires_at",
    "lookup_digest",
    "lookup_key_id",
    "ciphertext",
    "data_key_id",
    "code_tail",
    "created_at",
)
_PG_TYPES = (
    "int8",
    "int8",
    "int8",
    "varchar",
    "int8",
    "int8",
    "varchar",
    "timestamptz",
    "timestamptz",
    "bytea",
    "int2",
    "bytea",
    "int2",
    "varchar",
    "timestamptz",
)
_DIGEST_CONSTRAINT = "uq_vouchers_lookup_digest"


def insert_vouchers(connection: Connection, chunk: NewVouchers) -> list[int]:
    """Insert ``chunk`` into ``vouchers``; return the offsets refused as duplicate digests."""
    if connection.dialect.name == "postgresql":
        return _copy_postgres(connection, chunk)
    return _insert_sqlite(connection, chunk)


def _rows(chunk: NewVouchers) -> Iterator[tuple[Any, ...]]:
    """Every column of every row, produced as they are written."""
    lot = chunk.lot
    fixed = (
        lot.id,
        lot.type_id,
        chunk.state.value,
        lot.value_minor,
        lot.extra_value_minor,
        lot.currency,
        lot.effective_at,
        lot.expires_at,
    )
    lookup_id, data_id, created_at = chunk.lookup_key_id, chunk.data_key_id, chunk.created_at
    first = chunk.first_number
    return (
        (first + i, *fixed, digest, lookup_id, ciphertext, data_id, tail, created_at)
        for i, (digest, ciphertext, tail) in enumerate(
            zip(chunk.digests, chunk.ciphertexts, chunk.tails, strict=True)
        )
    )


def _insert_sqlite(connection: Connection, chunk: NewVouchers) -> list[int]:
    # Everything but the number and the secret material is the same for the whole chunk:
    # it goes into the statement once, as checked literals, so each row binds four values.
    # Timestamps are written as the strings SQLAlchemy itself stores.
    stored_form = DATETIME().bind_processor(connection.dialect)  # type: ignore[no-untyped-call]
    assert stored_form is not None

    def to_db(value: datetime) -> str:
        return str(stored_form(value.astimezone(UTC).replace(tzinfo=None)))

    lot = chunk.lot
    constants = {
        "lot_id": lot.id,
        "type_id": lot.type_id,
        "state": chunk.state.value,
        "value_minor": lot.value_minor,
        "extra_value_minor": lot.extra_value_minor,
        "currency": lot.currency,
        "effective_at": to_db(lot.effective_at),
        "expires_at": to_db(lot.expires_at),
        "lookup_key_id": chunk.lookup_key_id,
        "data_key_id": chunk.data_key_id,
        "created_at": to_db(chunk.created_at),
    }
    values = ", ".join(
        "?" if name in _PER_ROW else _sqlite_literal(constants[name]) for name in COLUMNS
    )
    first, count = chunk.first_number, len(chunk.digests)
    numbers = range(first, first + count)
    # An iterator, not a list: sqlite3 binds row by row, so the chunk is never copied.
    rows = zip(numbers, chunk.digests, chunk.ciphertexts, chunk.tails, strict=True)
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        cursor.executemany(
            f"INSERT INTO vouchers ({', '.join(COLUMNS)}) VALUES ({values}) "  # noqa: S608
            "ON CONFLICT (lookup_digest) DO NOTHING",
            rows,
        )
        inserted = cursor.rowcount
    finally:
        cursor.close()
    if inserted == count:
        return []
    return _missing_offsets(connection, first, count)


_PER_ROW = ("number", "lookup_digest", "ciphertext", "code_tail")  # in COLUMNS order
_SAFE_TEXT = re.compile(r"^[A-Za-z0-9 :._-]*$")


def _sqlite_literal(value: object) -> str:
    """An integer or a plain word as SQL; anything else is refused, never quoted blindly."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and _SAFE_TEXT.match(value):
        return f"'{value}'"
    raise ValueError(f"not a safe SQL literal: {value!r}")


def _copy_postgres(connection: Connection, chunk: NewVouchers) -> list[int]:
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute("SAVEPOINT vouchers_copy")
        try:
            with cursor.copy(
                f"COPY vouchers ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(_PG_TYPES)
                for row in _rows(chunk):
                    copy.write_row(row)
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name != _DIGEST_CONSTRAINT:
                raise
            cursor.execute("ROLLBACK TO SAVEPOINT vouchers_copy")
            return _insert_postgres_skipping_duplicates(cursor, list(_rows(chunk)))
        cursor.execute("RELEASE SAVEPOINT vouchers_copy")
    return []


def _insert_postgres_skipping_duplicates(cursor: Any, rows: list[tuple[Any, ...]]) -> list[int]:
    """The slow path after a collision: insert row by row, skipping taken digests."""
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    cursor.executemany(
        f"INSERT INTO vouchers ({', '.join(COLUMNS)}) VALUES ({placeholders}) "  # noqa: S608
        "ON CONFLICT (lookup_digest) DO NOTHING",
        rows,
    )
    first = rows[0][0]
    cursor.execute(
        "SELECT number FROM vouchers WHERE number BETWEEN %s AND %s", (first, first + len(rows) - 1)
    )
    present = {number for (number,) in cursor.fetchall()}
    return [i for i in range(len(rows)) if first + i not in present]


def _missing_offsets(connection: Connection, first: int, count: int) -> list[int]:
    present = {
        number
        for (number,) in connection.exec_driver_sql(
            "SELECT number FROM vouchers WHERE number BETWEEN ? AND ?", (first, first + count - 1)
        )
    }
    return [i for i in range(count) if first + i not in present]
