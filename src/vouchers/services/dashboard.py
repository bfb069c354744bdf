"""Use cases behind the staff console's dashboard: what the operator sees first.

Vouchers by state (as of now: activated past expiration counts as expired), the value
issued and redeemed today and this month per currency, the latest process runs, and the
failed-attempt alerts (lock-outs in force, ``attempts.locked`` and ``attempts.spike``
events). "Issued" is the face value of vouchers *generated* in the period, whatever
became of them since; "redeemed" is the value and bonus of completed redemptions in the
period (reversed ones drop out). Days and months are UTC.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vouchers.domain.attempts import Lockout
from vouchers.domain.runs import ProcessRun
from vouchers.domain.vouchers import VoucherState
from vouchers.services.ports import Clock, RedeemedTally, UnitOfWork, VoucherTally

ALERT_EVENTS = ("attempts.spike", "attempts.locked")


@dataclass(frozen=True)
class CurrencyFigures:
    """The value issued and redeemed in one currency, in minor units."""

    currency: str
    issued_today_minor: int = 0
    issued_month_minor: int = 0
    redeemed_today_minor: int = 0
    redeemed_month_minor: int = 0
    bonus_today_minor: int = 0
    bonus_month_minor: int = 0
    redemptions_today: int = 0
    redemptions_month: int = 0


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard shows; see the module docstring."""

    at: datetime
    by_state: dict[VoucherState, int]
    money: list[CurrencyFigures]
    recent_runs: list[ProcessRun] = field(default_factory=list)
    lockouts: list[Lockout] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_state.values())


def period_starts(now: datetime) -> tuple[datetime, datetime]:
    """The start of ``now``'s day and month (in ``now``'s time zone, UTC in practice)."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


def show_dashboard(*, uow: UnitOfWork, clock: Clock, runs: int = 8, alerts: int = 10) -> Dashboard:
    """The dashboard as of now, read in one transaction."""
    now = clock()
    day, month = period_starts(now)
    with uow:
        tallies = uow.dashboard.voucher_tallies(now=now, day_start=day, month_start=month)
        redeemed = uow.dashboard.redeemed_tallies(day_start=day, month_start=month)
        recent = uow.runs.recent(limit=runs)
        lockouts = uow.dashboard.active_lockouts(now=now)
        events = [
            e for kind in ALERT_EVENTS for e in uow.events.recent(event_type=kind, limit=alerts)
        ]
    events.sort(key=lambda e: e["id"], reverse=True)
    return Dashboard(
        at=now,
        by_state=_by_state(tallies),
        money=_money(tallies, redeemed),
        recent_runs=recent,
        lockouts=lockouts,
        alerts=events[:alerts],
    )


def lot_state_counts(lot_id: int, *, uow: UnitOfWork, clock: Clock) -> dict[VoucherState, int]:
    """How many of a lot's vouchers are in each state as of now (states with none left out)."""
    now = clock()
    day, month = period_starts(now)
    with uow:
        tallies = uow.dashboard.voucher_tallies(
            now=now, day_start=day, month_start=month, lot_id=lot_id
        )
    return _by_state(tallies)


def _by_state(tallies: list[VoucherTally]) -> dict[VoucherState, int]:
    counts: dict[VoucherState, int] = defaultdict(int)
    for tally in tallies:
        counts[tally.state] += tally.count
    return {state: counts[state] for state in VoucherState if counts.get(state)}


def _money(tallies: list[VoucherTally], redeemed: list[RedeemedTally]) -> list[CurrencyFigures]:
    issued: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for tally in tallies:
        issued[tally.currency][0] += tally.issued_today_minor
        issued[tally.currency][1] += tally.issued_month_minor
    used = {r.currency: r for r in redeemed}
    figures = []
    for code in sorted(set(issued) | set(used)):
        today, month = issued.get(code, [0, 0])
        r = used.get(code)
        figures.append(
            CurrencyFigures(
                currency=code,
                issued_today_minor=today,
                issued_month_minor=month,
                redeemed_today_minor=r.value_today_minor if r else 0,
                redeemed_month_minor=r.value_month_minor if r else 0,
                bonus_today_minor=r.bonus_today_minor if r else 0,
                bonus_month_minor=r.bonus_month_minor if r else 0,
                redemptions_today=r.count_today if r else 0,
                redemptions_month=r.count_month if r else 0,
            )
        )
    return figures
