"""The dashboard's figures on both databases: vouchers by state as of now, value issued
and redeemed today and this month, recent runs and failed-attempt alerts."""

from __future__ import annotations

from datetime import timedelta

from support.factories import generate_lot_with, make_type, set_voucher_fields
from support.redeeming import customer, issue, redeem
from vouchers.bootstrap import App
from vouchers.domain.attempts import Lockout, Scope, Subject
from vouchers.domain.lifecycle import Process
from vouchers.domain.vouchers import VoucherState
from vouchers.services import dashboard, reversals, runs


def test_vouchers_are_tallied_by_state_as_of_now(app: App) -> None:
    # Given 3 activated vouchers, one of them past its expiration, and 2 drafts
    issue(app, "PREM", 3)
    generate_lot_with(app, "PREM", 2)
    set_voucher_fields(app, 1, expires_at=app.clock() - timedelta(days=1))

    figures = dashboard.show_dashboard(uow=app.uow(), clock=app.clock)

    assert figures.by_state == {
        VoucherState.DRAFT: 2,
        VoucherState.ACTIVATED: 2,
        VoucherState.EXPIRED: 1,
    }
    assert figures.total == 5


def test_value_issued_counts_vouchers_generated_today_and_this_month(app: App) -> None:
    make_type(app, "PREM")  # 50.00 EUR
    generate_lot_with(app, "PREM", 4)
    set_voucher_fields(app, 1, created_at=app.clock() - timedelta(days=1))  # this month
    set_voucher_fields(app, 2, created_at=app.clock() - timedelta(days=40))  # last month

    (eur,) = dashboard.show_dashboard(uow=app.uow(), clock=app.clock).money

    assert eur.currency == "EUR"
    assert eur.issued_today_minor == 2 * 5000
    assert eur.issued_month_minor == 3 * 5000


def test_value_redeemed_counts_completed_redemptions_only(app: App) -> None:
    first, second = issue(app, "PREM", 2, extra_value_minor=500)
    customer(app, "C1")
    redeem(app, first, "C1")
    done = redeem(app, second, "C1")
    reversals.reverse_redemption(
        done.redemption_id or 0, reason="chargeback", uow=app.uow(), clock=app.clock, actor="bob"
    )

    (eur,) = dashboard.show_dashboard(uow=app.uow(), clock=app.clock).money

    assert (eur.redemptions_today, eur.redeemed_today_minor, eur.bonus_today_minor) == (
        1,
        5000,
        500,
    )
    assert eur.redeemed_month_minor == 5000


def test_recent_runs_and_failed_attempt_alerts_are_shown(app: App) -> None:
    make_type(app, "PREM")
    lot = generate_lot_with(app, "PREM", 1)
    run = runs.request_run(
        Process.ACCEPT, {"lot": lot}, uow=app.uow(), clock=app.clock, actor="bob"
    )
    now = app.clock()
    with app.uow() as uow:
        uow.attempts.lock(
            Lockout(Subject(Scope.ADDRESS, "203.0.113.9"), now + timedelta(hours=1), 1)
        )
        uow.attempts.lock(Lockout(Subject(Scope.CUSTOMER, "C9"), now - timedelta(hours=1), 1))
        uow.events.add("attempts.spike", {"guesses": 1000}, at=now)
        uow.events.add("lot.generated", {"lot": lot}, at=now)
        uow.commit()

    figures = dashboard.show_dashboard(uow=app.uow(), clock=app.clock)

    assert [r.id for r in figures.recent_runs] == [run.id]
    assert [str(lockout.subject) for lockout in figures.lockouts] == ["address:203.0.113.9"]
    assert [event["type"] for event in figures.alerts] == ["attempts.spike"]


def test_a_lots_vouchers_are_tallied_alone(app: App) -> None:
    make_type(app, "PREM")
    generate_lot_with(app, "PREM", 2)
    other = generate_lot_with(app, "PREM", 3)
    with app.uow() as uow:
        lot_id = uow.lots.get(other).id or 0

    counts = dashboard.lot_state_counts(lot_id, uow=app.uow(), clock=app.clock)

    assert counts == {VoucherState.DRAFT: 3}


def test_runs_are_listed_newest_first_a_page_at_a_time(app: App) -> None:
    make_type(app, "PREM")
    lot = generate_lot_with(app, "PREM", 1)
    made = [
        runs.request_run(Process.ACCEPT, {"lot": lot}, uow=app.uow(), clock=app.clock, actor="b").id
        for _ in range(5)
    ]

    first = runs.list_runs(uow=app.uow(), limit=2)
    rest = runs.list_runs(uow=app.uow(), limit=10, before=first[-1].id)

    assert [r.id for r in first + rest] == sorted(made, reverse=True)
