"""The dashboard's figures through the service with fake repositories: states as of now,
value issued by period, lock-outs in force only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from support.fakes import FakeClock, FakeUnitOfWork
from vouchers.adapters.keys import CodeVault
from vouchers.domain.attempts import Lockout, Scope, Subject
from vouchers.domain.lots import Lot
from vouchers.domain.voucher_types import VoucherType
from vouchers.domain.vouchers import VoucherState
from vouchers.services import dashboard, lots

MakeType = Callable[..., VoucherType]
MakeLot = Callable[..., Lot]
S = VoucherState


def test_period_starts_are_the_start_of_the_day_and_of_the_month() -> None:
    day, month = dashboard.period_starts(datetime(2026, 11, 27, 12, 30, tzinfo=UTC))
    assert day == datetime(2026, 11, 27, tzinfo=UTC)
    assert month == datetime(2026, 11, 1, tzinfo=UTC)


def test_vouchers_are_tallied_as_of_now_and_issued_value_by_period(
    make_type: MakeType, make_lot: MakeLot, uow: FakeUnitOfWork, vault: CodeVault, clock: FakeClock
) -> None:
    # Given three auto-activated 50.00 EUR vouchers, one expired, one generated last month
    make_type("AUTO", validity_days=30, auto_activate=True)
    lot = make_lot("AUTO", count=3)
    lots.generate_lot(lot.alternative_code, uow=uow, vault=vault, clock=clock, actor="maker")
    first, second, _ = sorted(uow.database.tables.vouchers)
    uow.database.put(first, expires_at=clock.now - timedelta(seconds=1))
    uow.database.put(second, created_at=clock.now - timedelta(days=40))

    figures = dashboard.show_dashboard(uow=uow, clock=clock)

    assert figures.by_state == {S.ACTIVATED: 2, S.EXPIRED: 1}
    (eur,) = figures.money
    assert (eur.issued_today_minor, eur.issued_month_minor) == (2 * 5000, 2 * 5000)
    assert dashboard.lot_state_counts(lot.id or 0, uow=uow, clock=clock) == figures.by_state


def test_only_lockouts_still_in_force_are_alerts(uow: FakeUnitOfWork, clock: FakeClock) -> None:
    with uow:
        for name, hours in (("ended", -1), ("later", 2), ("sooner", 1)):
            subject = Subject(Scope.CUSTOMER, name)
            uow.attempts.lock(Lockout(subject, clock.now + timedelta(hours=hours), 1))
        uow.commit()

    figures = dashboard.show_dashboard(uow=uow, clock=clock)

    assert [lockout.subject.name for lockout in figures.lockouts] == ["later", "sooner"]
