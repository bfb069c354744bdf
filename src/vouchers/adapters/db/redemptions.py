"""Redemptions: the conditional update that consumes a voucher, and everything written with it.

``context`` and ``record`` are the hot path, in the driver's own SQL (``redeeming``). The
voucher is consumed by one ``UPDATE … WHERE number = … AND state = 'activated'`` (and still
within its dates); only when that changed a row are the redemption, its journal entry, the
wallet balances, the history row and the events written, all in the caller's transaction.
Two concurrent attempts on one code therefore give exactly one
success: the second waits for the first's row lock and then matches no row (PostgreSQL),
or waits for the write lock (SQLite). A partial unique index on completed redemptions per
voucher is the backstop.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, func, select, update

from vouchers.adapters.db import schema
from vouchers.adapters.db.redeeming import load_context, record_redemption
from vouchers.domain.attempts import Subject
from vouchers.domain.redemptions import Channel, Credit, Redemption, RedemptionStatus
from vouchers.errors import RedemptionNotFoundError
from vouchers.services.ports import (
    HistoryEntry,
    JournalEntry,
    RecordedRedemption,
    RedemptionContext,
)

_R = schema.redemptions
_V = schema.vouchers
_E = schema.journal_entries


class SqlRedemptionRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def context(
        self,
        *,
        digests: Sequence[bytes],
        customer_ref: str,
        subjects: Sequence[Subject],
        now: datetime,
        idempotency: tuple[str, str] | None = None,
    ) -> RedemptionContext:
        return load_context(
            self._c,
            digests=digests,
            customer_ref=customer_ref,
            subjects=subjects,
            now=now,
            idempotency=idempotency,
        )

    def record(
        self,
        redemption: Redemption,
        entry: JournalEntry,
        history: HistoryEntry,
        *,
        events: Sequence[tuple[str, dict[str, Any]]] = (),
    ) -> RecordedRedemption | None:
        return record_redemption(self._c, redemption, entry, history, events)

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
