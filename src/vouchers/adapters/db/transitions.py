"""Set-based life-cycle changes: move every matching voucher and record its history at once.

A bulk process over a million vouchers is a few statements, not a Python loop. The state
a criterion compares is the state *as of now*: an activated voucher past its expiration
counts as expired. On PostgreSQL one statement locks the matching rows, updates them and
inserts their history from the locked (old) values, so a concurrent redemption can never
slip between history and change; on SQLite the write transaction is already exclusive.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    String,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    null,
    select,
    update,
)

from vouchers.adapters.db import schema
from vouchers.domain.vouchers import VoucherState
from vouchers.services.ports import Transition, VoucherCriteria

_V = schema.vouchers
_H = schema.voucher_history
_HISTORY_COLUMNS = (
    "voucher_number",
    "field",
    "process",
    "from_value",
    "to_value",
    "at",
    "by",
    "run_id",
)


def state_as_of(now: datetime) -> ColumnElement[Any]:
    """The state column with expiry derived: activated and past expiration reads expired."""
    return case(
        (
            and_(_V.c.state == VoucherState.ACTIVATED.value, _V.c.expires_at <= now),
            VoucherState.EXPIRED.value,
        ),
        else_=_V.c.state,
    )


def matching(criteria: VoucherCriteria) -> ColumnElement[bool]:
    """The WHERE clause for ``criteria``."""
    clauses: list[ColumnElement[bool]] = [
        state_as_of(criteria.now).in_(sorted(s.value for s in criteria.states))
    ]
    if criteria.lot_id is not None:
        clauses.append(_V.c.lot_id == criteria.lot_id)
    if criteria.type_id is not None:
        clauses.append(_V.c.type_id == criteria.type_id)
    if criteria.number_from is not None:
        clauses.append(_V.c.number >= criteria.number_from)
    if criteria.number_to is not None:
        clauses.append(_V.c.number <= criteria.number_to)
    if criteria.stored_state is not None:
        clauses.append(_V.c.state == criteria.stored_state.value)
    if criteria.expired_before is not None:
        clauses.append(_V.c.expires_at <= criteria.expired_before)
    return and_(*clauses)


def apply_transition(connection: Connection, transition: Transition) -> int:
    """Move the matching vouchers; one history row each; return how many moved."""
    values: dict[str, Any] = {"state": transition.to_state.value}
    if transition.wipe_secrets:
        values |= {
            "lookup_digest": None,
            "lookup_key_id": None,
            "ciphertext": None,
            "data_key_id": None,
            "code_tail": None,
        }
    where = matching(transition.criteria)
    now = transition.criteria.now
    # History says what the process saw: the state as of now (a purge of an activated
    # voucher past expiry purges an expired one) — except for the sweep, which records the
    # stored state it writes down.
    stored = transition.criteria.stored_state
    seen = state_as_of(now) if stored is None else literal(stored.value)
    history_row = (
        literal("state"),
        literal(transition.process),
        # from_value is selected per row below
        literal(transition.to_state.value),
        literal(now, schema.UtcDateTime()),
        literal(transition.actor),
        literal(transition.run_id, BigInteger()) if transition.run_id else null(),
    )
    if connection.dialect.name == "postgresql":
        old = (
            select(_V.c.number, seen.label("from_state")).where(where).with_for_update().cte("old")
        )
        moved = (
            update(_V)
            .where(_V.c.number == old.c.number)
            .values(values)
            .returning(_V.c.number, old.c.from_state)
            .cte("moved")
        )
        source = select(moved.c.number, *history_row[:2], moved.c.from_state, *history_row[2:])
        recorded = (
            insert(_H).from_select(_HISTORY_COLUMNS, source).returning(_H.c.id).cte("recorded")
        )
        return int(connection.execute(select(func.count()).select_from(recorded)).scalar_one())
    source = select(_V.c.number, *history_row[:2], cast(seen, String), *history_row[2:]).where(
        where
    )
    connection.execute(insert(_H).from_select(_HISTORY_COLUMNS, source))
    result = connection.execute(update(_V).where(where).values(values))
    return int(result.rowcount)


def generated_by(connection: Connection, criteria: VoucherCriteria) -> set[str]:
    """Who generated the lots that the matching vouchers belong to."""
    lots = schema.lots
    query = (
        select(lots.c.generated_by)
        .where(lots.c.id.in_(select(_V.c.lot_id).where(matching(criteria)).distinct()))
        .where(lots.c.generated_by.is_not(None))
    )
    return {row[0] for row in connection.execute(query)}


MODIFIABLE = ("type_id", "effective_at", "expires_at")


def apply_modification(
    connection: Connection,
    criteria: VoucherCriteria,
    changes: dict[str, object],
    *,
    actor: str,
    run_id: int | None,
) -> int:
    """Change type or validity of the matching vouchers, one history row per changed field."""
    where = matching(criteria)
    if connection.dialect.name == "postgresql":  # lock first, so history and change agree
        locked = select(_V.c.number).where(where).with_for_update().subquery()
        connection.execute(select(func.count()).select_from(locked))
    for column_name, new_value in changes.items():
        column = _V.c[column_name]
        if isinstance(new_value, datetime):
            shown = new_value.astimezone(UTC).isoformat(timespec="microseconds")
            old_shown = _iso_text(connection, column)
        else:
            shown, old_shown = str(new_value), cast(column, String)
        source = select(
            _V.c.number,
            literal(column_name),
            literal("modify"),
            old_shown,
            literal(shown),
            literal(criteria.now, schema.UtcDateTime()),
            literal(actor),
            literal(run_id, BigInteger()) if run_id else null(),
        ).where(where, column != literal(new_value, column.type))
        connection.execute(insert(_H).from_select(_HISTORY_COLUMNS, source))
    result = connection.execute(update(_V).where(where).values(changes))
    return int(result.rowcount)


def _iso_text(connection: Connection, column: Any) -> ColumnElement[Any]:
    """A UTC timestamp column as ISO 8601 text, the way Python's isoformat writes it."""
    if connection.dialect.name == "postgresql":
        pattern = 'YYYY-MM-DD"T"HH24:MI:SS.US'
        return func.to_char(func.timezone("UTC", column), pattern) + "+00:00"
    return func.replace(column, " ", "T") + "+00:00"  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff'
