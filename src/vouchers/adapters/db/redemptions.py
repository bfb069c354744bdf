"""Redemptions: the conditional update that consumes a voucher, and everything written with it.

``record`` is the hot path. The voucher is consumed by one ``UPDATE … WHERE number = …
AND state = 'activated'`` (and still within its dates); only when that changed a row are
the redemption, its journal entry, the wallet balances and the history row written, all in
the caller's transaction. Two concurrent attempts on one code therefore give exactly one
success: the second waits for the first's row lock and then matches no row (PostgreSQL),
or waits for the write lock (SQLite). A partial unique index on completed redemptions per
voucher is the backstop.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, exists, func, insert, select, text, update

from vouchers.adapters.db import schema
from vouchers.adapters.db.ledger import write_postings
from vouchers.domain.ledger import wallet_changes
from vouchers.domain.redemptions import Channel, Credit, Redemption, RedemptionStatus
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import RedemptionNotFoundError
from vouchers.services.ports import HistoryEntry, JournalEntry

_R = schema.redemptions
_V = schema.vouchers
_E = schema.journal_entries


class SqlRedemptionRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def record(
        self,
        redemption: Redemption,
        entry: JournalEntry,
        history: HistoryEntry,
        *,
        events: Sequence[tuple[str, dict[str, Any]]] = (),
    ) -> Redemption | None:
        if self._c.dialect.name == "postgresql":
            redemption_id = _record_in_one_statement(self._c, redemption, entry, history, events)
        else:
            redemption_id = self._record_step_by_step(redemption, entry, history, events)
        return None if redemption_id is None else dataclasses.replace(redemption, id=redemption_id)

    def _record_step_by_step(
        self,
        redemption: Redemption,
        entry: JournalEntry,
        history: HistoryEntry,
        events: Sequence[tuple[str, dict[str, Any]]],
    ) -> int | None:
        at = redemption.redeemed_at
        consumed = self._c.execute(
            update(_V)
            .where(
                _V.c.number == redemption.voucher_number,
                _V.c.state == VoucherState.ACTIVATED.value,
                _V.c.effective_at <= at,
                _V.c.expires_at > at,
            )
            .values(state=VoucherState.USED.value, used_at=at, used_by=redemption.customer_id)
        )
        if consumed.rowcount != 1:
            return None
        redemption_id = int(
            self._c.execute(insert(_R).values(_values(redemption)).returning(_R.c.id)).scalar_one()
        )
        entry_id = int(
            self._c.execute(
                insert(_E)
                .values({**_entry_values(entry), "redemption_id": redemption_id})
                .returning(_E.c.id)
            ).scalar_one()
        )
        write_postings(self._c, entry_id, entry.postings)
        self._c.execute(insert(schema.voucher_history).values(vars(history)))
        if events:
            self._c.execute(
                insert(schema.events),
                [
                    {
                        "type": event_type,
                        "payload": {**payload, "redemption_id": redemption_id},
                        "created_at": at,
                    }
                    for event_type, payload in events
                ],
            )
        return redemption_id

    def get(self, redemption_id: int, *, for_update: bool = False) -> Redemption:
        query = select(_R).where(_R.c.id == redemption_id)
        row = self._c.execute(query.with_for_update() if for_update else query).first()
        if row is None:
            raise RedemptionNotFoundError(f"no redemption {redemption_id}")
        return _from_row(row)

    def count_for(self, customer_id: int, *, type_id: int | None, lot_id: int | None) -> int:
        query = select(func.count()).where(
            _R.c.customer_id == customer_id, _R.c.status == RedemptionStatus.COMPLETED.value
        )
        if type_id is not None:
            query = query.where(_R.c.type_id == type_id)
        if lot_id is not None:
            query = query.where(_R.c.lot_id == lot_id)
        return int(self._c.execute(query).scalar_one())

    def has_completed(self, customer_id: int) -> bool:
        query = select(
            exists().where(
                _R.c.customer_id == customer_id, _R.c.status == RedemptionStatus.COMPLETED.value
            )
        )
        return bool(self._c.execute(query).scalar_one())

    def for_customer(self, customer_id: int, *, limit: int = 50) -> builtins.list[Redemption]:
        query = select(_R).where(_R.c.customer_id == customer_id).order_by(_R.c.id.desc())
        return [_from_row(row) for row in self._c.execute(query.limit(limit))]

    def mark_reversed(self, redemption_id: int, *, at: Any, by: str) -> bool:
        result = self._c.execute(
            update(_R)
            .where(_R.c.id == redemption_id, _R.c.status == RedemptionStatus.COMPLETED.value)
            .values(status=RedemptionStatus.REVERSED.value, reversed_at=at, reversed_by=by)
        )
        return result.rowcount == 1


def _values(r: Redemption) -> dict[str, Any]:
    return {
        "voucher_number": r.voucher_number,
        "customer_id": r.customer_id,
        "type_id": r.type_id,
        "lot_id": r.lot_id,
        "channel": r.channel.value,
        "currency": r.credit.currency,
        "value_minor": r.credit.value_minor,
        "topup_minor": r.credit.topup_minor,
        "bonus_minor": r.credit.bonus_minor,
        "toward_purchase": r.credit.toward_purchase,
        "payment_type": r.payment_type,
        "product": r.product,
        "purchase_reference": r.purchase_reference,
        "payment_reference": r.payment_reference,
        "client_address": r.client_address,
        "caller": r.caller,
        "idempotency_key": r.idempotency_key,
        "status": r.status.value,
        "redeemed_at": r.redeemed_at,
        "redeemed_by": r.redeemed_by,
        "reversed_at": r.reversed_at,
        "reversed_by": r.reversed_by,
    }


def _entry_values(entry: JournalEntry) -> dict[str, Any]:
    return {
        "kind": entry.kind.value,
        "at": entry.at,
        "by": entry.by,
        "memo": entry.memo,
        "reference": entry.reference,
    }


# PostgreSQL: the whole write in one statement, one round trip. Every data-modifying CTE
# selects from the conditional update ``v``, so when the voucher is no longer activated
# nothing at all is written and the statement returns no row.
_RECORD_SQL = """
WITH v AS (
    UPDATE vouchers SET state = 'used', used_at = :at, used_by = :customer_id
    WHERE number = :number AND state = 'activated'
      AND effective_at <= :at AND expires_at > :at
    RETURNING number
), r AS (
    INSERT INTO redemptions ({redemption_columns})
    SELECT {redemption_values} FROM v
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
), h AS (
    INSERT INTO voucher_history (voucher_number, field, process, from_value, to_value, at, by,
                                 run_id, note)
    SELECT v.number, :h_field, :h_process, :h_from, :h_to, :at, :h_by, NULL, :h_note FROM v
), ev AS (
    INSERT INTO events (type, payload, created_at)
    SELECT x.type, CAST(x.payload || jsonb_build_object('redemption_id', r.id) AS json), :at
    FROM r, jsonb_to_recordset(CAST(:events AS jsonb)) AS x(type text, payload jsonb)
)
SELECT id FROM r
"""


def _record_in_one_statement(
    connection: Connection,
    redemption: Redemption,
    entry: JournalEntry,
    history: HistoryEntry,
    events: Sequence[tuple[str, dict[str, Any]]],
) -> int | None:
    values = _values(redemption)
    names = [name for name in values if name not in {"redeemed_at"}]
    columns = ", ".join(["redeemed_at", *names])
    placeholders = ", ".join([":at", *(f":r_{name}" for name in names)])
    (paid, bonus), *_ = wallet_changes(entry.postings).values() or [(0, 0)]
    params: dict[str, Any] = {f"r_{name}": values[name] for name in names}
    params.update(
        at=redemption.redeemed_at,
        number=redemption.voucher_number,
        customer_id=redemption.customer_id,
        currency=redemption.credit.currency,
        entry_kind=entry.kind.value,
        entry_by=entry.by,
        entry_memo=entry.memo,
        entry_reference=entry.reference,
        postings=json.dumps(
            [
                {
                    "account": p.account.value,
                    "customer_id": p.customer_id,
                    "currency": p.currency,
                    "amount_minor": p.amount_minor,
                }
                for p in entry.postings
            ]
        ),
        paid_change=paid,
        bonus_change=bonus,
        touches_wallet=bool(paid or bonus),
        h_field=history.field,
        h_process=history.process,
        h_from=history.from_value,
        h_to=history.to_value,
        h_by=history.by,
        h_note=history.note,
        events=json.dumps([{"type": t, "payload": p} for t, p in events]),
    )
    sql = _RECORD_SQL.format(redemption_columns=columns, redemption_values=placeholders)
    row = connection.execute(text(sql), params).first()
    return None if row is None else int(row.id)


def _from_row(row: Any) -> Redemption:
    return Redemption(
        id=row.id,
        voucher_number=row.voucher_number,
        customer_id=row.customer_id,
        type_id=row.type_id,
        lot_id=row.lot_id,
        channel=Channel(row.channel),
        credit=Credit(
            currency=row.currency,
            value_minor=row.value_minor,
            topup_minor=row.topup_minor,
            bonus_minor=row.bonus_minor,
            toward_purchase=row.toward_purchase,
        ),
        payment_type=row.payment_type,
        product=row.product,
        purchase_reference=row.purchase_reference,
        payment_reference=row.payment_reference,
        client_address=row.client_address,
        caller=row.caller,
        idempotency_key=row.idempotency_key,
        status=RedemptionStatus(row.status),
        redeemed_at=row.redeemed_at,
        redeemed_by=row.redeemed_by,
        reversed_at=row.reversed_at,
        reversed_by=row.reversed_by,
    )
