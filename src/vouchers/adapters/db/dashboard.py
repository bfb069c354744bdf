"""The SQL repository of the console's aggregates: vouchers by state, value issued and
redeemed, and the lock-outs in force.

Vouchers are tallied in one pass over the table (or over one lot through
``ix_vouchers_lot_id_number``), grouped by the state as of now and the currency, with the
value generated today and this month summed alongside: the dashboard costs one scan, not
one per figure.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, select

from vouchers.adapters.db import schema
from vouchers.adapters.db.transitions import state_as_of
from vouchers.domain.attempts import Lockout, Scope, Subject
from vouchers.domain.redemptions import RedemptionStatus
from vouchers.domain.vouchers import VoucherState
from vouchers.services.ports import RedeemedTally, VoucherTally

_V = schema.vouchers
_R = schema.redemptions
_L = schema.lockouts


class SqlDashboardRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def voucher_tallies(
        self,
        *,
        now: datetime,
        day_start: datetime,
        month_start: datetime,
        lot_id: int | None = None,
    ) -> builtins.list[VoucherTally]:
        state = state_as_of(now).label("state")

        def since(start: datetime) -> ColumnElement[Any]:
            return func.coalesce(
                func.sum(case((_V.c.created_at >= start, _V.c.value_minor), else_=0)), 0
            )

        query = select(
            state,
            _V.c.currency,
            func.count().label("vouchers"),
            func.coalesce(func.sum(_V.c.value_minor), 0).label("value"),
            since(day_start).label("today"),
            since(month_start).label("month"),
        ).group_by(state, _V.c.currency)
        if lot_id is not None:
            query = query.where(_V.c.lot_id == lot_id)
        return [
            VoucherTally(
                state=VoucherState(row.state),
                currency=row.currency,
                count=int(row.vouchers),
                value_minor=int(row.value),
                issued_today_minor=int(row.today),
                issued_month_minor=int(row.month),
            )
            for row in self._c.execute(query)
        ]

    def redeemed_tallies(
        self, *, day_start: datetime, month_start: datetime
    ) -> builtins.list[RedeemedTally]:
        today = _R.c.redeemed_at >= day_start

        def when_today(column: Any) -> ColumnElement[Any]:
            return func.coalesce(func.sum(case((today, column), else_=0)), 0)

        query = (
            select(
                _R.c.currency,
                when_today(1).label("count_today"),
                when_today(_R.c.value_minor).label("value_today"),
                when_today(_R.c.bonus_minor).label("bonus_today"),
                func.count().label("count_month"),
                func.coalesce(func.sum(_R.c.value_minor), 0).label("value_month"),
                func.coalesce(func.sum(_R.c.bonus_minor), 0).label("bonus_month"),
            )
            .where(
                _R.c.status == RedemptionStatus.COMPLETED.value,
                _R.c.redeemed_at >= month_start,
            )
            .group_by(_R.c.currency)
            .order_by(_R.c.currency)
        )
        return [
            RedeemedTally(
                currency=row.currency,
                count_today=int(row.count_today),
                value_today_minor=int(row.value_today),
                bonus_today_minor=int(row.bonus_today),
                count_month=int(row.count_month),
                value_month_minor=int(row.value_month),
                bonus_month_minor=int(row.bonus_month),
            )
            for row in self._c.execute(query)
        ]

    def active_lockouts(self, *, now: datetime, limit: int = 20) -> builtins.list[Lockout]:
        query = (
            select(_L.c.scope, _L.c.subject, _L.c.until, _L.c.strikes)
            .where(_L.c.until > now)
            .order_by(_L.c.until.desc())
            .limit(limit)
        )
        return [
            Lockout(Subject(Scope(row.scope), row.subject), row.until, row.strikes)
            for row in self._c.execute(query)
        ]
