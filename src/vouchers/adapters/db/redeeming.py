"""The redemption hot path in the driver's own SQL: what one redemption reads and writes.

Everything else goes through SQLAlchemy Core; these few statements run thousands of times a
second, and building, coercing and caching SQLAlchemy statements cost several times what
the database does (bench/redeem.py). So they are plain SQL strings handed to the DBAPI
cursor of the unit of work's own connection, inside its transaction.

* ``load_context`` fetches what the rules need in one statement: running lock-outs, the
  voucher with its type, the settings, the customer and a stored idempotent result.
* ``record_redemption`` is the write: on PostgreSQL one statement of data-modifying CTEs,
  on SQLite a handful of statements on the in-process database. Both consume the voucher
  with one conditional update and write nothing else unless it changed a row.
"""

# The SQL below is assembled from constant column lists and placeholders only, never from
# input: S608 does not apply, and the word lists read better than long list literals.
# ruff: noqa: S608, SIM905

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Connection

from vouchers.adapters.db.repositories import voucher_type_from_row
from vouchers.domain.attempts import Lockout, Subject
from vouchers.domain.customers import Customer, CustomerStatus
from vouchers.domain.ledger import wallet_changes
from vouchers.domain.redemptions import Redemption
from vouchers.domain.voucher_types import VoucherType
from vouchers.domain.vouchers import Voucher, VoucherState
from vouchers.errors import ConflictError, StorageError
from vouchers.services.ports import (
    HistoryEntry,
    JournalEntry,
    RecordedRedemption,
    RedemptionContext,
    StoredResult,
)

_VOUCHER_COLUMNS = (
    "number lot_id type_id state value_minor extra_value_minor currency effective_at "
    "expires_at code_tail created_at customer_id used_at used_by"
).split()
_TYPE_COLUMNS = (
    "id alternative_code name kind currency value_option value_minor extra_value_minor "
    "minimum_activation_minor multiplier addition_minor products product_types code_alphabet "
    "code_symbols code_length code_prefix code_group_size code_check code_allow_weak "
    "default_payment_type plan_code per_customer first_topup_only kyc_required validity_days "
    "auto_activate notes created_at created_by"
).split()
_CUSTOMER_COLUMNS = "id external_ref name phone email kyc_verified status created_at created_by"

_CUSTOMER_FIELDS = _CUSTOMER_COLUMNS.split()

# Everything a redemption decides on, in one statement and one row: the voucher with its
# type, the customer and a stored idempotent result joined in (NULLs when absent), the
# settings and the running lock-outs aggregated as JSON.
_CONTEXT_SQL = (
    "SELECT "
    + ", ".join(f"vt.{c}" for c in _VOUCHER_COLUMNS)
    + ", "
    + ", ".join(f"vt.t_{c}" for c in _TYPE_COLUMNS)
    + ", "
    + ", ".join(f"c.{c}" for c in _CUSTOMER_FIELDS)
    + ", i.operation, i.request_hash, i.result"
    + ", (SELECT {agg}({array}(key, value)) FROM settings) AS settings"
    + ", (SELECT {agg}({array}(scope, subject, until, strikes)) FROM lockouts"
    + "   WHERE ({subjects}) AND until > :now) AS lockouts"
    + " FROM (SELECT 1 AS one) AS one"
    + " LEFT JOIN (SELECT "
    + ", ".join(f"v.{c}" for c in _VOUCHER_COLUMNS)
    + ", "
    + ", ".join(f"t.{c} AS t_{c}" for c in _TYPE_COLUMNS)
    + "   FROM vouchers v JOIN voucher_types t ON t.id = v.type_id"
    + "   WHERE v.lookup_digest IN ({digests}) LIMIT 1) AS vt ON 1 = 1"
    + " LEFT JOIN customers c ON c.external_ref = :ref"
    + " LEFT JOIN idempotency_keys i ON i.caller = :caller AND i.key = :key"
)
_JSON_FUNCTIONS = {
    "postgresql": {"agg": "json_agg", "array": "json_build_array"},
    "sqlite": {"agg": "json_group_array", "array": "json_array"},
}


def load_context(
    connection: Connection,
    *,
    digests: Sequence[bytes],
    customer_ref: str,
    subjects: Sequence[Subject],
    now: datetime,
    idempotency: tuple[str, str] | None,
) -> RedemptionContext:
    """Everything a redemption decides on, read in one statement of the current transaction."""
    dialect = _Dialect.of(connection)
    caller, key = idempotency or (None, None)
    params: dict[str, Any] = {"ref": customer_ref, "caller": caller, "key": key}
    params["now"] = dialect.time(now)
    params.update({f"d{i}": digest for i, digest in enumerate(digests)})
    conditions = []
    for i, subject in enumerate(subjects):
        params[f"s{i}"], params[f"n{i}"] = subject.scope.value, subject.name
        conditions.append(f"(scope = :s{i} AND subject = :n{i})")
    sql = _CONTEXT_SQL.format(
        digests=", ".join(f":d{i}" for i in range(len(digests))) or "NULL",
        subjects=" OR ".join(conditions) or "1 = 0",
        **_JSON_FUNCTIONS[dialect.name],
    )
    (row,) = dialect.query(sql, params)
    return _context_from_row(row, subjects, dialect)


def _context_from_row(
    row: tuple[Any, ...], subjects: Sequence[Subject], dialect: _Dialect
) -> RedemptionContext:
    width = len(_VOUCHER_COLUMNS) + len(_TYPE_COLUMNS)
    customer_row = row[width : width + len(_CUSTOMER_FIELDS)]
    operation, request_hash, result, settings, lockouts = row[width + len(_CUSTOMER_FIELDS) :]
    voucher, voucher_type = None, None
    if row[0] is not None:
        voucher, voucher_type = _voucher_and_type(row[:width], dialect)
    by_key = {(s.scope.value, s.name): s for s in subjects}
    return RedemptionContext(
        lockouts=[
            Lockout(by_key[(scope, name)], dialect.parse_time(until), strikes)
            for scope, name, until, strikes in dialect.parse_json(lockouts) or []
        ],
        voucher=voucher,
        voucher_type=voucher_type,
        settings=dict(dialect.parse_json(settings) or []),
        customer=None if customer_row[0] is None else _customer(customer_row, dialect),
        stored_result=(
            None
            if operation is None
            else StoredResult(operation, request_hash, dialect.parse_json(result))
        ),
    )


def record_redemption(
    connection: Connection,
    redemption: Redemption,
    entry: JournalEntry,
    history: HistoryEntry,
    events: Sequence[tuple[str, dict[str, Any]]],
) -> RecordedRedemption | None:
    """Consume the voucher and write everything that goes with it, or nothing."""
    dialect = _Dialect.of(connection)
    params = _write_params(redemption, entry, history, events, dialect)
    if dialect.name == "postgresql":
        rows = dialect.query(_RECORD_SQL, params)
        if not rows:
            return None
        redemption_id, paid, bonus = rows[0]
    else:
        with dialect.errors():
            found = _record_sqlite(dialect, params)
        if found is None:
            return None
        redemption_id, paid, bonus = found
    stored = Redemption(**{**vars(redemption), "id": int(redemption_id)})
    return RecordedRedemption(stored, paid, bonus)


# -- the write ---------------------------------------------------------------------------------

_REDEMPTION_COLUMNS = (
    "voucher_number customer_id type_id lot_id channel currency value_minor topup_minor "
    "bonus_minor toward_purchase payment_type product purchase_reference payment_reference "
    "client_address caller idempotency_key status redeemed_at redeemed_by"
).split()

_CONSUME = (
    "UPDATE vouchers SET state = 'used', used_at = :at, used_by = :customer_id "
    "WHERE number = :voucher_number AND state = 'activated' "
    "AND effective_at <= :at AND expires_at > :at"
)
_INSERT_REDEMPTION = (
    f"INSERT INTO redemptions ({', '.join(_REDEMPTION_COLUMNS)}) "
    f"VALUES ({', '.join(':' + c for c in _REDEMPTION_COLUMNS)})"
)
_INSERT_ENTRY = (
    "INSERT INTO journal_entries (kind, at, by, memo, redemption_id, reference) "
    "VALUES (:entry_kind, :at, :entry_by, :entry_memo, :redemption_id, :entry_reference)"
)
_INSERT_POSTING = (
    "INSERT INTO postings (entry_id, account, customer_id, currency, amount_minor) "
    "VALUES (:entry_id, :account, :customer_id, :currency, :amount_minor)"
)
_CREDIT_WALLET = (
    "INSERT INTO wallets (customer_id, currency, paid_minor, bonus_minor) "
    "VALUES (:customer_id, :currency, :paid_change, :bonus_change) "
    "ON CONFLICT (customer_id, currency) DO UPDATE "
    "SET paid_minor = wallets.paid_minor + excluded.paid_minor, "
    "bonus_minor = wallets.bonus_minor + excluded.bonus_minor "
    "RETURNING paid_minor, bonus_minor"
)
_WALLET = (
    "SELECT paid_minor, bonus_minor FROM wallets "
    "WHERE customer_id = :customer_id AND currency = :currency"
)
_INSERT_HISTORY = (
    "INSERT INTO voucher_history (voucher_number, field, process, from_value, to_value, at, by, "
    "run_id, note) VALUES (:voucher_number, :h_field, :h_process, :h_from, :h_to, :at, :h_by, "
    "NULL, :h_note)"
)
_INSERT_EVENT = "INSERT INTO events (type, payload, created_at) VALUES (:type, :payload, :at)"

# PostgreSQL: the whole write in one statement. Every data-modifying CTE selects from the
# conditional update ``v``, so when the voucher is no longer activated nothing at all is
# written and the statement returns no row.
_RECORD_SQL = f"""
WITH v AS (
    {_CONSUME}
    RETURNING number
), r AS (
    INSERT INTO redemptions ({", ".join(_REDEMPTION_COLUMNS)})
    SELECT {", ".join(":" + c for c in _REDEMPTION_COLUMNS)} FROM v
    RETURNING id
), e AS (
    INSERT INTO journal_entries (kind, at, by, memo, redemption_id, reference)
    SELECT :entry_kind, :at, :entry_by, :entry_memo, r.id, :entry_reference FROM r
    RETURNING id
), p AS (
    INSERT INTO postings (entry_id, account, customer_id, currency, amount_minor)
    SELECT e.id, x.account, x.customer_id, x.currency, x.amount_minor
    FROM e, jsonb_to_recordset(CAST(:postings AS jsonb))
        AS x(account text, customer_id bigint, currency text, amount_minor bigint)
), w AS (
    INSERT INTO wallets (customer_id, currency, paid_minor, bonus_minor)
    SELECT :customer_id, :currency, :paid_change, :bonus_change FROM v WHERE :touches_wallet
    ON CONFLICT (customer_id, currency) DO UPDATE
    SET paid_minor = wallets.paid_minor + excluded.paid_minor,
        bonus_minor = wallets.bonus_minor + excluded.bonus_minor
    RETURNING paid_minor, bonus_minor
), h AS (
    INSERT INTO voucher_history (voucher_number, field, process, from_value, to_value, at, by,
                                 run_id, note)
    SELECT v.number, :h_field, :h_process, :h_from, :h_to, :at, :h_by, NULL, :h_note FROM v
), ev AS (
    INSERT INTO events (type, payload, created_at)
    SELECT x.type, CAST(x.payload || jsonb_build_object('redemption_id', r.id) AS json), :at
    FROM r, jsonb_to_recordset(CAST(:events AS jsonb)) AS x(type text, payload jsonb)
)
SELECT r.id,
       coalesce((SELECT paid_minor FROM w), (SELECT paid_minor FROM wallets
                 WHERE customer_id = :customer_id AND currency = :currency), 0),
       coalesce((SELECT bonus_minor FROM w), (SELECT bonus_minor FROM wallets
                 WHERE customer_id = :customer_id AND currency = :currency), 0)
FROM r
"""


def _write_params(
    redemption: Redemption,
    entry: JournalEntry,
    history: HistoryEntry,
    events: Sequence[tuple[str, dict[str, Any]]],
    dialect: _Dialect,
) -> dict[str, Any]:
    credit = redemption.credit
    changes = wallet_changes(entry.postings).get((redemption.customer_id, credit.currency))
    paid, bonus = changes or (0, 0)
    return {
        "voucher_number": redemption.voucher_number,
        "customer_id": redemption.customer_id,
        "type_id": redemption.type_id,
        "lot_id": redemption.lot_id,
        "channel": redemption.channel.value,
        "currency": credit.currency,
        "value_minor": credit.value_minor,
        "topup_minor": credit.topup_minor,
        "bonus_minor": credit.bonus_minor,
        "toward_purchase": credit.toward_purchase,
        "payment_type": redemption.payment_type,
        "product": redemption.product,
        "purchase_reference": redemption.purchase_reference,
        "payment_reference": redemption.payment_reference,
        "client_address": redemption.client_address,
        "caller": redemption.caller,
        "idempotency_key": redemption.idempotency_key,
        "status": redemption.status.value,
        "redeemed_at": dialect.time(redemption.redeemed_at),
        "redeemed_by": redemption.redeemed_by,
        "at": dialect.time(redemption.redeemed_at),
        "entry_kind": entry.kind.value,
        "entry_by": entry.by,
        "entry_memo": entry.memo,
        "entry_reference": entry.reference,
        "postings": [
            {
                "account": p.account.value,
                "customer_id": p.customer_id,
                "currency": p.currency,
                "amount_minor": p.amount_minor,
            }
            for p in entry.postings
        ],
        "paid_change": paid,
        "bonus_change": bonus,
        "touches_wallet": bool(paid or bonus),
        "h_field": history.field,
        "h_process": history.process,
        "h_from": history.from_value,
        "h_to": history.to_value,
        "h_by": history.by,
        "h_note": history.note,
        "events": [{"type": t, "payload": p} for t, p in events],
    }


def _record_sqlite(dialect: _Dialect, params: dict[str, Any]) -> tuple[int, int, int] | None:
    cursor = dialect.driver.cursor()

    def run(sql: str, bound: dict[str, Any]) -> Any:
        dialect.announce(cursor, sql, bound)
        return cursor.execute(sql, bound)

    def run_many(sql: str, rows: list[dict[str, Any]]) -> None:
        dialect.announce(cursor, sql, rows, many=True)
        cursor.executemany(sql, rows)

    try:
        if run(_CONSUME, params).rowcount != 1:
            return None
        redemption_id = run(_INSERT_REDEMPTION, params).lastrowid
        entry_id = run(_INSERT_ENTRY, {**params, "redemption_id": redemption_id}).lastrowid
        run_many(_INSERT_POSTING, [{**p, "entry_id": entry_id} for p in params["postings"]])
        if params["touches_wallet"]:
            paid, bonus = run(_CREDIT_WALLET, params).fetchone()
        else:
            paid, bonus = run(_WALLET, params).fetchone() or (0, 0)
        run(_INSERT_HISTORY, params)
        run_many(
            _INSERT_EVENT,
            [
                {
                    "type": event["type"],
                    "payload": json.dumps({**event["payload"], "redemption_id": redemption_id}),
                    "at": params["at"],
                }
                for event in params["events"]
            ],
        )
    finally:
        cursor.close()
    assert redemption_id is not None
    return redemption_id, paid, bonus


# -- the two drivers ---------------------------------------------------------------------------


class _Dialect:
    """What differs between sqlite3 and psycopg for the statements above."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.name = connection.dialect.name
        self.driver: Any = connection.connection.driver_connection

    @classmethod
    def of(cls, connection: Connection) -> _Dialect:
        return cls(connection)

    def announce(self, cursor: Any, sql: str, params: Any, *, many: bool = False) -> None:
        """Fire SQLAlchemy's ``before_cursor_execute`` listeners, so tracing, metrics and
        statement capture see these statements like any other."""
        if self.connection._has_events or self.connection.engine._has_events:
            self.connection.dispatch.before_cursor_execute(
                self.connection, cursor, sql, params, None, many
            )

    def time(self, value: datetime) -> Any:
        if self.name == "sqlite":
            return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return value

    def parse_time(self, value: Any) -> datetime:
        if isinstance(value, datetime):
            return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime.fromisoformat(value).replace(tzinfo=UTC)

    def parse_time_or_none(self, value: Any) -> datetime | None:
        return None if value is None else self.parse_time(value)

    def parse_json(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str | bytes) else value

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Driver errors as ours: these statements bypass SQLAlchemy's translation.

        A unique or check violation here means the database refused a second redemption
        of one voucher or a negative balance: a conflict, never a silent success.
        """
        dbapi = self.connection.dialect.loaded_dbapi
        try:
            yield
        except dbapi.IntegrityError as exc:
            raise ConflictError(f"the database refused the redemption: {exc}") from exc
        except dbapi.Error as exc:
            raise StorageError(f"database error: {exc}") from exc

    def query(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Run one statement (``:name`` placeholders); return its rows."""
        with self.errors():
            cursor = self.driver.cursor()
            try:
                if self.name == "postgresql":
                    sql = _pyformat(sql)
                    params = {k: Jsonb(v) if isinstance(v, list) else v for k, v in params.items()}
                    self.announce(cursor, sql, params)
                    cursor.execute(sql, params, prepare=True)  # server-side prepared statement
                else:
                    self.announce(cursor, sql, params)
                    cursor.execute(sql, params)
                # Every statement here returns rows. (Not ``cursor.description``: psycopg
                # builds a column object per column for it, a third of the read's CPU.)
                rows: list[tuple[Any, ...]] = cursor.fetchall()
                return rows
            finally:
                cursor.close()


_NAMED = re.compile(r"(?<![:\w]):(\w+)")
_PYFORMAT: dict[str, str] = {}


def _pyformat(sql: str) -> str:
    """``:name`` placeholders as psycopg's ``%(name)s`` (cached per statement text)."""
    converted = _PYFORMAT.get(sql)
    if converted is None:
        converted = _PYFORMAT[sql] = _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))
    return converted


def _voucher_and_type(row: tuple[Any, ...], dialect: _Dialect) -> tuple[Voucher, VoucherType]:
    width = len(_VOUCHER_COLUMNS)
    v = dict(zip(_VOUCHER_COLUMNS, row[:width], strict=True))
    voucher = Voucher(
        number=v["number"],
        lot_id=v["lot_id"],
        type_id=v["type_id"],
        state=VoucherState(v["state"]),
        value_minor=v["value_minor"],
        extra_value_minor=v["extra_value_minor"],
        currency=v["currency"],
        effective_at=dialect.parse_time(v["effective_at"]),
        expires_at=dialect.parse_time(v["expires_at"]),
        code_tail=v["code_tail"],
        created_at=dialect.parse_time(v["created_at"]),
        customer_id=v["customer_id"],
        used_at=dialect.parse_time_or_none(v["used_at"]),
        used_by=v["used_by"],
    )
    return voucher, _voucher_type(row[width:], dialect)


# Parsed voucher types by their stored row. Parsing validates the whole type and its code
# format, which cost more than the rest of a redemption's decoding together; the row is the
# key, so any change to the type (an update of its rules or products) is a new entry.
_TYPES: dict[tuple[Any, ...], VoucherType] = {}
_TYPES_KEPT = 512


def _voucher_type(values: tuple[Any, ...], dialect: _Dialect) -> VoucherType:
    key = tuple(tuple(x) if isinstance(x, list) else x for x in values)
    found = _TYPES.get(key)
    if found is None:
        t = dict(zip(_TYPE_COLUMNS, values, strict=True))
        for name in ("products", "product_types"):
            t[name] = dialect.parse_json(t[name])
        for name in ("code_allow_weak", "first_topup_only", "kyc_required", "auto_activate"):
            t[name] = bool(t[name])
        t["created_at"] = dialect.parse_time(t["created_at"])
        found = voucher_type_from_row(SimpleNamespace(**t))
        if len(_TYPES) >= _TYPES_KEPT:
            _TYPES.clear()
        _TYPES[key] = found
    return found


def _customer(row: tuple[Any, ...], dialect: _Dialect) -> Customer:
    c = dict(zip(_CUSTOMER_COLUMNS.split(), row, strict=True))
    return Customer(
        id=c["id"],
        external_ref=c["external_ref"],
        name=c["name"],
        phone=c["phone"],
        email=c["email"],
        kyc_verified=bool(c["kyc_verified"]),
        status=CustomerStatus(c["status"]),
        created_at=dialect.parse_time(c["created_at"]),
        created_by=c["created_by"],
    )
