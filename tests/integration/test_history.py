"""Voucher history on both databases: one row per moved voucher or changed field, every
view of a secret, and the derived generation entry at the head of each trail."""

from __future__ import annotations

from datetime import timedelta

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
from vouchers.bootstrap import App
from vouchers.domain.lifecycle import ADDRESSES, RESULTS, Process
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import InvalidTransitionError, ValidationError, VoucherNotFoundError
from vouchers.services import processes, vouchers
from vouchers.services.processes import Selection

P = Process
S = VoucherState


def history_count(app: App) -> int:
    with app.engine.connect() as connection:
        query = sa.select(sa.func.count()).select_from(schema.voucher_history)
        return int(connection.execute(query).scalar_one())


def modify(app: App, selection: Selection, **changes: object) -> int:
    outcome = processes.modify_vouchers(
        selection,
        uow=app.uow(),
        clock=app.clock,
        actor=CHECKER,
        **changes,  # type: ignore[arg-type]
    )
    return outcome.count


# -- bulk processes -----------------------------------------------------------------------


def test_accepting_a_500_voucher_lot_writes_exactly_one_history_row_per_voucher(
    app: App,
) -> None:
    make_type(app)
    lot = generate(app, "PREM", 500)
    assert history_count(app) == 0  # generation is derived, not stored 500 times

    accepted = apply(app, P.ACCEPT, Selection(lot=lot), run_id=7)

    rows = history_rows(app)
    assert accepted == len(rows) == history_count(app) == 500
    assert sorted(r["voucher_number"] for r in rows) == list(range(1, 501))
    assert {
        (r["field"], r["process"], r["from_value"], r["to_value"], r["by"], r["at"], r["run_id"])
        for r in rows
    } == {("state", "accept", "draft", "accepted", CHECKER, app.clock(), 7)}


BULK_PROCESSES = (P.ACCEPT, P.REJECT, P.ACTIVATE, P.CANCEL, P.PURGE, P.EXPIRE)


@pytest.mark.parametrize("process", BULK_PROCESSES, ids=str)
def test_a_bulk_process_over_a_mixed_lot_writes_one_row_per_moved_voucher_and_no_other(
    app: App, process: Process
) -> None:
    # Given a lot with two vouchers in each state, round robin (set by SQL, used included)
    make_type(app)
    lot = generate(app, "PREM", 2 * len(S))
    started = dict(enumerate([*S, *S], start=1))
    for n, state in started.items():
        set_voucher_fields(app, n, state=state)
    if process is P.EXPIRE:  # the sweep only finds vouchers past their expiration
        set_voucher_fields(app, expires_at=app.clock() - timedelta(days=1))

    moved = apply(app, process, Selection(lot=lot))

    addressed = sorted(n for n, state in started.items() if state in ADDRESSES[process])
    rows = history_rows(app)
    assert moved == len(rows) == len(addressed) == 2 * len(ADDRESSES[process])
    assert [r["voucher_number"] for r in sorted(rows, key=lambda r: r["voucher_number"])] == (
        addressed
    )
    result = RESULTS[process]
    assert result is not None
    assert {(r["process"], r["to_value"], r["by"]) for r in rows} == {
        (process.value, result.value, CHECKER)
    }
    assert all(r["from_value"] == started[r["voucher_number"]] for r in rows)


def test_a_refused_process_writes_no_history(app: App) -> None:
    make_type(app)
    lot = generate(app, "PREM", 3)
    with pytest.raises(InvalidTransitionError, match="activate"):
        apply(app, P.ACTIVATE, Selection(lot=lot))
    assert history_count(app) == 0


# -- modify -------------------------------------------------------------------------------


def test_modify_writes_one_row_per_changed_field_and_never_touches_the_value(app: App) -> None:
    premium = make_type(app)
    gold = make_type(app, "GOLD")
    lot = generate(app, "PREM", 3)
    new_expiry = app.clock() + timedelta(days=30)

    assert modify(app, Selection(lot=lot), type_ref="GOLD", expires_at=new_expiry) == 3

    rows = history_rows(app)
    assert len(rows) == 6
    assert {(r["voucher_number"], r["field"]) for r in rows} == {
        (n, field) for n in (1, 2, 3) for field in ("type_id", "expires_at")
    }
    assert {(r["process"], r["by"], r["at"]) for r in rows} == {("modify", CHECKER, app.clock())}
    type_rows = [r for r in rows if r["field"] == "type_id"]
    assert {(r["from_value"], r["to_value"]) for r in type_rows} == {
        (str(premium.id), str(gold.id))
    }
    stored = voucher_rows(app)
    assert {(r["type_id"], r["expires_at"], r["value_minor"]) for r in stored.values()} == {
        (gold.id, new_expiry, 5000)
    }
    assert {r["state"] for r in stored.values()} == {"draft"}


def test_modify_records_nothing_for_a_field_set_to_the_value_it_has(app: App) -> None:
    make_type(app)
    make_type(app, "GOLD")
    lot = generate(app, "PREM", 2)
    current_expiry = voucher_rows(app)[1]["expires_at"]

    modify(app, Selection(lot=lot), type_ref="GOLD", expires_at=current_expiry)
    modify(app, Selection(number=1), type_ref="GOLD")

    assert [(r["voucher_number"], r["field"]) for r in history_rows(app)] == [
        (1, "type_id"),
        (2, "type_id"),
    ]


def test_modify_refuses_to_change_the_value_and_writes_nothing(app: App) -> None:
    make_type(app)
    lot = generate(app, "PREM", 2)
    before = voucher_rows(app)
    with pytest.raises(ValidationError, match="value"):
        modify(app, Selection(lot=lot), value_minor=9000, expires_at=app.clock())
    assert voucher_rows(app) == before
    assert history_count(app) == 0


def test_a_voucher_s_date_history_chains_from_one_modification_to_the_next(app: App) -> None:
    make_type(app)
    generate(app, "PREM", 1)
    first, second = app.clock() + timedelta(days=30), app.clock() + timedelta(days=60)
    modify(app, Selection(number=1), expires_at=first)
    modify(app, Selection(number=1), expires_at=second)

    earlier, later = history_rows(app)
    assert earlier["to_value"] == later["from_value"] == "2026-12-27T12:00:00.000000+00:00"
    assert earlier["from_value"] == "2027-11-27T12:00:00.000000+00:00"  # the lot's, in ISO
    assert later["to_value"] == "2027-01-26T12:00:00.000000+00:00"


@pytest.mark.parametrize("by_lot", [False, True], ids=["one", "lot"])
def test_modify_refuses_an_effective_date_after_the_stored_expiration(
    app: App, by_lot: bool
) -> None:
    make_type(app)
    lot = generate(app, "PREM", 1)
    expiry = voucher_rows(app)[1]["expires_at"]
    before = voucher_rows(app)
    selection = Selection(lot=lot) if by_lot else Selection(number=1)

    with pytest.raises(ValidationError, match="expiration"):
        modify(app, selection, effective_at=expiry + timedelta(days=1))
    assert voucher_rows(app) == before
    assert history_count(app) == 0


def test_modify_checks_a_lot_s_new_effective_date_against_the_vouchers_expiration(
    app: App,
) -> None:
    make_type(app)
    lot = generate(app, "PREM", 2)
    now = app.clock()
    modify(app, Selection(lot=lot), expires_at=now + timedelta(days=5))

    with pytest.raises(ValidationError, match="expiration"):
        modify(app, Selection(lot=lot), effective_at=now + timedelta(days=10))


def test_modify_refuses_a_type_of_another_value(app: App) -> None:
    make_type(app)
    make_type(app, "CHEAP", value_minor=2000)
    generate(app, "PREM", 1)
    before = voucher_rows(app)

    with pytest.raises(ValidationError, match="another value"):
        modify(app, Selection(number=1), type_ref="CHEAP")
    assert voucher_rows(app) == before
    assert history_count(app) == 0


# -- reveal -------------------------------------------------------------------------------


def test_revealing_a_code_writes_a_secret_row_with_the_reason(app: App) -> None:
    make_type(app)
    generate(app, "PREM", 2)
    codes = clear_codes(app)

    code = vouchers.reveal_code(
        2,
        reason="  customer lost the card  ",
        uow=app.uow(),
        vault=app.vault,
        clock=app.clock,
        actor="carol",
    )

    assert code == codes[2]
    [row] = history_rows(app)
    assert {k: row[k] for k in ("voucher_number", "field", "process", "by", "at", "note")} == {
        "voucher_number": 2,
        "field": "secret",
        "process": "reveal",
        "by": "carol",
        "at": app.clock(),
        "note": "customer lost the card",
    }
    assert (row["from_value"], row["to_value"]) == (None, None)  # the code is never stored
    assert voucher_rows(app)[2]["state"] == "draft"


def test_revealing_without_a_reason_is_refused_and_recorded_nowhere(app: App) -> None:
    make_type(app)
    generate(app, "PREM", 1)
    with pytest.raises(ValidationError, match="reason"):
        vouchers.reveal_code(
            1, reason="  ", uow=app.uow(), vault=app.vault, clock=app.clock, actor="carol"
        )
    assert history_count(app) == 0


def test_every_reveal_is_recorded(app: App) -> None:
    make_type(app)
    generate(app, "PREM", 1)
    set_voucher_fields(app, 1, state=S.USED)  # used: reached only by redemption, not built yet
    for reason in ("dispute", "audit"):
        vouchers.reveal_code(
            1, reason=reason, uow=app.uow(), vault=app.vault, clock=app.clock, actor="carol"
        )
    assert [r["note"] for r in history_rows(app, process="reveal")] == ["dispute", "audit"]


# -- the trail as read --------------------------------------------------------------------


def test_a_voucher_s_history_starts_with_its_derived_generation(app: App) -> None:
    make_type(app)
    lot = generate(app, "PREM", 2)

    [created] = vouchers.voucher_history(1, uow=app.uow())
    assert (created.process, created.field, created.from_value, created.to_value) == (
        "generate",
        "state",
        None,
        "draft",
    )
    assert (created.by, created.at) == ("alice", voucher_rows(app)[1]["created_at"])

    activate_lot(app, lot)
    apply(app, P.CANCEL, Selection(number=1))
    vouchers.reveal_code(
        1, reason="audit", uow=app.uow(), vault=app.vault, clock=app.clock, actor="carol"
    )

    trail = vouchers.voucher_history(1, uow=app.uow())
    assert [(e.process, e.from_value, e.to_value, e.by) for e in trail] == [
        ("generate", None, "draft", "alice"),
        ("accept", "draft", "accepted", CHECKER),
        ("activate", "accepted", "activated", CHECKER),
        ("cancel", "activated", "cancelled", CHECKER),
        ("reveal", None, None, "carol"),
    ]
    assert [e.process for e in vouchers.voucher_history(2, uow=app.uow())] == [
        "generate",
        "accept",
        "activate",
    ]


def test_an_auto_activated_voucher_s_history_starts_activated(app: App) -> None:
    make_type(app, auto_activate=True)
    generate(app, "PREM", 1)
    apply(app, P.CANCEL, Selection(number=1))

    trail = vouchers.voucher_history(1, uow=app.uow())
    assert [(e.process, e.from_value, e.to_value) for e in trail] == [
        ("generate", None, "activated"),
        ("cancel", "activated", "cancelled"),
    ]


def test_an_auto_activated_voucher_purged_after_expiry_still_reads_as_generated_activated(
    app: App,
) -> None:
    make_type(app, auto_activate=True)
    now = app.clock()
    generate_lot_with(
        app, "PREM", 1, effective_at=now - timedelta(days=60), expires_at=now - timedelta(days=40)
    )
    apply(app, P.PURGE, Selection(number_from=1, number_to=1, days_after_expiration=30))

    created = vouchers.voucher_history(1, uow=app.uow())[0]
    assert created.to_value == "activated"


def test_the_history_of_an_unknown_voucher_is_not_found(app: App) -> None:
    make_type(app)
    generate(app, "PREM", 1)
    with pytest.raises(VoucherNotFoundError):
        vouchers.voucher_history(2, uow=app.uow())
