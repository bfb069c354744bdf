"""The voucher life cycle on both databases: the whole transition table, derived expiry,
purging, the four-eyes rule, and (PostgreSQL) a bulk cancel racing redemptions."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from support.factories import (
    CHECKER,
    activate_lot,
    apply,
    clear_codes,
    generate,
    generate_lot_with,
    history_rows,
    make_type,
    set_voucher_fields,
    voucher_rows,
)
from vouchers.adapters.db import schema
from vouchers.bootstrap import App, bootstrap
from vouchers.config import Settings
from vouchers.domain.lifecycle import ADDRESSES, RESULTS, Process
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import (
    FourEyesError,
    InvalidTransitionError,
    ValidationError,
    VoucherNotFoundError,
)
from vouchers.services import lots, vouchers
from vouchers.services.processes import Selection

P = Process
S = VoucherState

BULK_PROCESSES = (P.ACCEPT, P.REJECT, P.ACTIVATE, P.CANCEL, P.PURGE, P.EXPIRE)
# DESIGN.md §4, "selection": these take one voucher by number; the others a range of one.
BY_NUMBER = frozenset({P.ACCEPT, P.REJECT, P.CANCEL})


def one_voucher(process: Process, number: int) -> Selection:
    if process in BY_NUMBER:
        return Selection(number=number)
    return Selection(number_from=number, number_to=number)


# -- the transition table -----------------------------------------------------------------


@pytest.mark.parametrize("process", BULK_PROCESSES, ids=str)
def test_every_bulk_process_moves_exactly_the_states_it_addresses_and_refuses_the_rest(
    app: App, process: Process
) -> None:
    # Given one lot with three vouchers in each state (set by SQL: faster than the
    # services, and the only way into used): group i holds numbers 3i+1, 3i+2, 3i+3.
    make_type(app)
    lot = generate(app, "PREM", 3 * len(S))
    group = {state: (3 * i + 1, 3 * i + 2, 3 * i + 3) for i, state in enumerate(S)}
    for state, numbers in group.items():
        set_voucher_fields(app, *numbers, state=state)
    if process is P.EXPIRE:  # the sweep only finds vouchers past their expiration
        set_voucher_fields(app, expires_at=app.clock() - timedelta(days=1))
    result = RESULTS[process]
    assert result is not None

    # When the process addresses the middle voucher of each group alone
    for state, (_, number, _) in group.items():
        before, history_before = voucher_rows(app), history_rows(app)
        where = f"{process} of a voucher in state {state}"
        if state in ADDRESSES[process]:
            # Then an addressed voucher moves, with one history row, and nothing else does
            assert apply(app, process, one_voucher(process, number)) == 1, where
            after = voucher_rows(app)
            assert after[number]["state"] == result, where
            assert {n: r for n, r in after.items() if n != number} == {
                n: r for n, r in before.items() if n != number
            }, where
            [row] = history_rows(app)[len(history_before) :]
            assert (row["voucher_number"], row["field"], row["process"], row["to_value"]) == (
                number,
                "state",
                process.value,
                result.value,
            ), where
            assert (row["by"], row["at"]) == (CHECKER, app.clock()), where
            assert row["from_value"] == state.value, where  # the sweep's: as stored
            continue
        if process is P.EXPIRE:
            # The sweep is never refused (processes.py): it finds nothing to expire
            assert apply(app, process, one_voucher(process, number)) == 0, where
        else:
            # Then any other is refused, naming the voucher (its state too, by number)
            with pytest.raises(InvalidTransitionError) as refused:
                apply(app, process, one_voucher(process, number))
            message = str(refused.value)
            assert process.value in message, where
            if process in BY_NUMBER:
                assert f"voucher {number} is {state.value}" in message, where
            else:
                assert f"numbers {number}-{number}" in message, where
        assert voucher_rows(app) == before, where
        assert history_rows(app) == history_before, where

    # When the process addresses the whole lot: the rest of the addressed groups move
    addressed = [n for state in ADDRESSES[process] for n in group.get(state, ())]
    remaining = sorted(set(addressed) - {group[state][1] for state in S})
    history_before = history_rows(app)
    assert apply(app, process, Selection(lot=lot)) == len(remaining)
    moved = history_rows(app)[len(history_before) :]
    assert sorted(r["voucher_number"] for r in moved) == remaining
    states = {n: row["state"] for n, row in voucher_rows(app).items()}
    assert {states[n] for n in addressed} == {result.value}
    assert all(states[n] == s.value for s in set(S) - ADDRESSES[process] for n in group[s])

    # And once nothing in the lot is addressed any more, the lot is refused as a whole
    before, history_before = voucher_rows(app), history_rows(app)
    if process is P.EXPIRE:
        assert apply(app, process, Selection(lot=lot)) == 0
    else:
        with pytest.raises(InvalidTransitionError, match=f"lot {lot}.*{process.value}"):
            apply(app, process, Selection(lot=lot))
    assert voucher_rows(app) == before
    assert history_rows(app) == history_before


def test_a_selection_a_process_does_not_take_is_refused_before_anything_moves(app: App) -> None:
    make_type(app)
    generate(app, "PREM", 2)
    before = voucher_rows(app)
    with pytest.raises(ValidationError, match="activate cannot select by number"):
        apply(app, P.ACTIVATE, Selection(number=1))
    assert voucher_rows(app) == before


def test_every_part_of_a_selection_must_hold(app: App) -> None:
    make_type(app)
    first = generate(app, "PREM", 3)  # vouchers 1-3
    second = generate(app, "PREM", 3)  # vouchers 4-6
    before = voucher_rows(app)

    with pytest.raises(InvalidTransitionError):
        apply(app, P.CANCEL, Selection(number=5, number_from=1, number_to=3))
    with pytest.raises(InvalidTransitionError):
        apply(app, P.CANCEL, Selection(lot=first, number=5))
    assert voucher_rows(app) == before

    assert apply(app, P.CANCEL, Selection(lot=second, number_from=2, number_to=4)) == 1
    assert apply(app, P.ACCEPT, Selection(lot=first, number=2)) == 1
    states = {n: row["state"] for n, row in voucher_rows(app).items()}
    assert states == {
        1: "draft",
        2: "accepted",
        3: "draft",
        4: "cancelled",
        5: "draft",
        6: "draft",
    }


def test_a_purge_filtered_by_state_leaves_the_other_purgeable_states(app: App) -> None:
    make_type(app)
    lot = generate(app, "PREM", 4)
    apply(app, P.CANCEL, Selection(number_from=3, number_to=4))

    purged = apply(app, P.PURGE, Selection(lot=lot, states=frozenset({S.CANCELLED})))

    assert purged == 2
    states = {n: row["state"] for n, row in voucher_rows(app).items()}
    assert states == {1: "draft", 2: "draft", 3: "purged", 4: "purged"}


def test_a_process_on_an_unknown_voucher_is_refused_as_not_found(app: App) -> None:
    make_type(app)
    generate(app, "PREM", 2)
    with pytest.raises(VoucherNotFoundError):
        apply(app, P.CANCEL, Selection(number=99))


# -- derived expiry -----------------------------------------------------------------------


def expired_lot(app: App, *, days_ago: int = 1, count: int = 3) -> str:
    """An activated lot (through the services) whose expiration lies `days_ago` days back."""
    make_type(app)
    now = app.clock()
    lot: str = generate_lot_with(
        app,
        "PREM",
        count,
        effective_at=now - timedelta(days=days_ago + 30),
        expires_at=now - timedelta(days=days_ago),
    )
    activate_lot(app, lot)
    return lot


def test_an_activated_voucher_past_its_expiration_reads_as_expired(app: App) -> None:
    lot = expired_lot(app)

    view = vouchers.get_voucher(1, uow=app.uow(), clock=app.clock)
    assert view.state is S.EXPIRED
    assert view.voucher.state is S.ACTIVATED  # as stored: the sweep has not run
    listed = vouchers.list_vouchers(uow=app.uow(), clock=app.clock, lot_ref=lot)
    assert [v.state for v in listed] == [S.EXPIRED] * 3


@pytest.mark.parametrize(
    ("expires_in", "expected"),
    [
        (timedelta(days=-1), S.EXPIRED),
        (timedelta(0), S.EXPIRED),
        (timedelta(microseconds=1), S.ACTIVATED),
        (timedelta(days=1), S.ACTIVATED),
    ],
    ids=["a-day-ago", "this-instant", "a-microsecond-ahead", "tomorrow"],
)
def test_reads_and_the_sweep_agree_on_the_instant_a_voucher_expires(
    app: App, expires_in: timedelta, expected: VoucherState
) -> None:
    make_type(app)
    lot = generate(app, "PREM", 1)
    activate_lot(app, lot)
    set_voucher_fields(app, expires_at=app.clock() + expires_in)

    read = vouchers.get_voucher(1, uow=app.uow(), clock=app.clock).state
    swept = apply(app, P.EXPIRE, Selection())

    assert read is expected
    assert swept == (1 if expected is S.EXPIRED else 0)
    assert voucher_rows(app)[1]["state"] == expected


def test_an_expired_voucher_can_be_neither_cancelled_nor_activated(app: App) -> None:
    lot = expired_lot(app)
    before, history_before = voucher_rows(app), history_rows(app)

    with pytest.raises(InvalidTransitionError, match="voucher 1 is expired; cancel addresses"):
        apply(app, P.CANCEL, Selection(number=1))
    with pytest.raises(InvalidTransitionError, match="cancel"):
        apply(app, P.CANCEL, Selection(lot=lot))
    with pytest.raises(InvalidTransitionError, match="activate"):
        apply(app, P.ACTIVATE, Selection(lot=lot))

    assert voucher_rows(app) == before
    assert history_rows(app) == history_before


def test_an_expired_voucher_is_purged_only_once_the_days_after_expiration_have_passed(
    app: App,
) -> None:
    lot = expired_lot(app, days_ago=10)
    history_before = history_rows(app)

    with pytest.raises(InvalidTransitionError, match="purge"):
        apply(app, P.PURGE, Selection(lot=lot, days_after_expiration=30))
    assert history_rows(app) == history_before

    assert apply(app, P.PURGE, Selection(lot=lot, days_after_expiration=7)) == 3
    assert {row["state"] for row in voucher_rows(app).values()} == {"purged"}
    purges = history_rows(app, process="purge")
    assert [(r["from_value"], r["to_value"]) for r in purges] == [("expired", "purged")] * 3


def test_the_expire_sweep_writes_the_expired_state_down_with_history(app: App) -> None:
    lot = expired_lot(app, count=2)
    make_type(app, "LIVE")
    live = generate(app, "LIVE", 1)  # voucher 3, activated and not expired
    activate_lot(app, live)

    assert apply(app, P.EXPIRE, Selection()) == 2

    rows = voucher_rows(app)
    assert [rows[n]["state"] for n in (1, 2, 3)] == ["expired", "expired", "activated"]
    sweeps = history_rows(app, process="expire")
    assert [
        (r["voucher_number"], r["field"], r["from_value"], r["to_value"], r["by"]) for r in sweeps
    ] == [
        (1, "state", "activated", "expired", CHECKER),  # the state it had as stored
        (2, "state", "activated", "expired", CHECKER),
    ]
    # Swept again, nothing is left to expire; the stored state purges like the derived one.
    assert apply(app, P.EXPIRE, Selection(lot=lot)) == 0
    assert apply(app, P.PURGE, Selection(lot=lot)) == 2


def test_used_vouchers_never_expire(app: App) -> None:
    lot = expired_lot(app, count=2)
    # Redemption is not built yet: mark voucher 1 used the way it will (a conditional UPDATE).
    set_voucher_fields(app, 1, state=S.USED, used_at=app.clock() - timedelta(days=20))

    assert vouchers.get_voucher(1, uow=app.uow(), clock=app.clock).state is S.USED
    listed = vouchers.list_vouchers(uow=app.uow(), clock=app.clock, lot_ref=lot)
    assert [v.state for v in listed] == [S.USED, S.EXPIRED]
    assert apply(app, P.EXPIRE, Selection(lot=lot)) == 1
    assert voucher_rows(app)[1]["state"] == "used"
    assert [r["voucher_number"] for r in history_rows(app, process="expire")] == [2]


# -- purge --------------------------------------------------------------------------------

SECRET_COLUMNS = ("lookup_digest", "lookup_key_id", "ciphertext", "data_key_id", "code_tail")


def test_purging_wipes_the_secret_material_and_keeps_a_tombstone(app: App) -> None:
    make_type(app)
    generate(app, "PREM", 3)
    codes = clear_codes(app)
    apply(app, P.CANCEL, Selection(number=2))

    assert apply(app, P.PURGE, Selection(number_from=2, number_to=2)) == 1

    rows = voucher_rows(app)
    assert {column: rows[2][column] for column in SECRET_COLUMNS} == dict.fromkeys(SECRET_COLUMNS)
    assert rows[2]["state"] == "purged"
    assert rows[2]["value_minor"] == 5000  # the row stays, for history and reports
    assert all(rows[n][column] is not None for n in (1, 3) for column in SECRET_COLUMNS)
    with pytest.raises(VoucherNotFoundError):
        vouchers.find_voucher_by_code(codes[2], uow=app.uow(), vault=app.vault, clock=app.clock)
    found = vouchers.find_voucher_by_code(codes[3], uow=app.uow(), vault=app.vault, clock=app.clock)
    assert found.voucher.number == 3
    view = vouchers.get_voucher(2, uow=app.uow(), clock=app.clock)
    assert (view.state, view.masked_code) == (S.PURGED, None)


def test_revealing_a_purged_voucher_is_refused_and_recorded_nowhere(app: App) -> None:
    make_type(app)
    generate(app, "PREM", 1)
    apply(app, P.PURGE, Selection(number_from=1, number_to=1))
    history_before = history_rows(app)

    with pytest.raises(InvalidTransitionError, match="voucher 1 is purged"):
        vouchers.reveal_code(
            1, reason="audit", uow=app.uow(), vault=app.vault, clock=app.clock, actor=CHECKER
        )
    assert history_rows(app) == history_before


# -- four eyes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("process", "state", "select"),
    [
        (P.ACCEPT, S.DRAFT, lambda lot: Selection(lot=lot)),
        (P.ACCEPT, S.DRAFT, lambda lot: Selection(number=1)),
        (P.ACTIVATE, S.ACCEPTED, lambda lot: Selection(lot=lot)),
        (P.ACTIVATE, S.ACCEPTED, lambda lot: Selection(number_from=1, number_to=2)),
    ],
    ids=["accept-lot", "accept-one", "activate-lot", "activate-range"],
)
def test_the_generator_of_a_lot_can_neither_accept_nor_activate_it(
    app: App, process: Process, state: VoucherState, select: Callable[[str], Selection]
) -> None:
    make_type(app)
    selection = select(generate(app, "PREM", 2))
    set_voucher_fields(app, state=state)
    before, history_before = voucher_rows(app), history_rows(app)

    with pytest.raises(FourEyesError, match=f"alice generated.*another user must {process}"):
        apply(app, process, selection, actor="alice")

    assert voucher_rows(app) == before
    assert history_rows(app) == history_before
    assert apply(app, process, selection, actor=CHECKER) >= 1


def test_a_selection_that_reaches_a_lot_of_the_actor_is_refused_whole(app: App) -> None:
    make_type(app)
    lots_by = {}
    for maker in ("carol", "alice"):  # voucher 1 by carol, voucher 2 by alice
        lot = lots.create_lot("PREM", count=1, uow=app.uow(), clock=app.clock, actor=maker)
        lots.generate_lot(
            lot.alternative_code, uow=app.uow(), vault=app.vault, clock=app.clock, actor=maker
        )
        lots_by[maker] = lot.alternative_code
    before = voucher_rows(app)

    with pytest.raises(FourEyesError):
        apply(app, P.ACCEPT, Selection(number=2), actor="alice")
    assert voucher_rows(app) == before
    set_voucher_fields(app, state=S.ACCEPTED)
    before = voucher_rows(app)
    with pytest.raises(FourEyesError):
        apply(app, P.ACTIVATE, Selection(number_from=1, number_to=2), actor="alice")
    assert voucher_rows(app) == before

    assert apply(app, P.ACTIVATE, Selection(lot=lots_by["carol"]), actor="alice") == 1


def test_the_generator_may_reject_and_cancel_their_own_lot(app: App) -> None:
    make_type(app)
    lot = generate(app, "PREM", 2)
    assert apply(app, P.REJECT, Selection(number=1), actor="alice") == 1
    assert apply(app, P.CANCEL, Selection(lot=lot), actor="alice") == 2


def test_with_four_eyes_off_the_generator_may_accept_and_activate(app: App) -> None:
    make_type(app)
    lot = generate(app, "PREM", 2)
    assert apply(app, P.ACCEPT, Selection(lot=lot), actor="alice", four_eyes=False) == 2
    assert apply(app, P.ACTIVATE, Selection(lot=lot), actor="alice", four_eyes=False) == 2
    assert {row["state"] for row in voucher_rows(app).values()} == {"activated"}
    assert {r["by"] for r in history_rows(app)} == {"alice"}


# -- PostgreSQL: a bulk cancel racing redemptions ----------------------------------------

RACE_VOUCHERS = 2_000
RACE_THREADS = 50


@pytest.fixture
def postgres_app(postgres_url: str, tmp_path: Path) -> Iterator[App]:
    """The app on a fresh PostgreSQL database, with the real clock (threads race in time)."""
    settings = Settings.from_env({}, home=tmp_path / "home", database_url=postgres_url)
    application = bootstrap(settings, environ={})
    yield application
    application.close()


@pytest.mark.slow
def test_a_bulk_cancel_racing_redemptions_cancels_or_uses_each_voucher_exactly_once(
    postgres_app: App,
) -> None:
    # Given an activated lot of 2,000 vouchers
    app = postgres_app
    make_type(app)
    lot = generate(app, "PREM", RACE_VOUCHERS)
    activate_lot(app, lot)
    # Redemption is not built yet: each thread consumes vouchers with the conditional
    # UPDATE DESIGN.md §6 prescribes, one transaction per voucher, on its own connection.
    redeemers = sa.create_engine(
        app.engine.url, pool_size=RACE_THREADS, max_overflow=0, pool_pre_ping=False
    )
    redeem = sa.text(
        "UPDATE vouchers SET state = 'used', used_at = now() "
        "WHERE number = :number AND state = 'activated'"
    )
    start = threading.Barrier(RACE_THREADS + 1)
    used_by_thread = [0] * RACE_THREADS
    errors: list[BaseException] = []

    def redeem_share(index: int) -> None:
        try:
            numbers = list(range(RACE_VOUCHERS - index, 0, -RACE_THREADS))  # high to low
            with redeemers.connect() as connection:
                first, *rest = numbers
                used_by_thread[index] += connection.execute(redeem, {"number": first}).rowcount
                connection.commit()
                start.wait(timeout=60)  # every thread has redeemed one before the cancel
                for number in rest:
                    used_by_thread[index] += connection.execute(redeem, {"number": number}).rowcount
                    connection.commit()
        except BaseException as exc:  # reported below, so a thread cannot fail silently
            errors.append(exc)
            start.abort()

    threads = [threading.Thread(target=redeem_share, args=(i,)) for i in range(RACE_THREADS)]
    try:
        for thread in threads:
            thread.start()
        # When finance cancels the whole lot while they run
        start.wait(timeout=60)
        cancelled = apply(app, P.CANCEL, Selection(lot=lot))
    finally:
        for thread in threads:
            thread.join(timeout=120)
        redeemers.dispose()
    assert not errors

    # Then each voucher is cancelled with one cancel row, or used with none
    rows = voucher_rows(app)
    states = {n: row["state"] for n, row in rows.items()}
    used = {n for n, state in states.items() if state == "used"}
    cancelled_numbers = {n for n, state in states.items() if state == "cancelled"}
    assert len(used) + len(cancelled_numbers) == RACE_VOUCHERS
    assert len(used) == sum(used_by_thread) >= RACE_THREADS
    h = schema.voucher_history
    with app.engine.connect() as connection:
        per_voucher: dict[int, int] = dict(
            connection.execute(
                sa.select(h.c.voucher_number, sa.func.count())
                .where(h.c.process == "cancel")
                .group_by(h.c.voucher_number)
            ).all()
        )
    assert per_voucher == dict.fromkeys(cancelled_numbers, 1)
    assert cancelled == len(cancelled_numbers) == len(per_voucher) > 0
    assert {r["from_value"] for r in history_rows(app, process="cancel")} == {"activated"}
