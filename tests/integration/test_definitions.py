"""Business definitions on both databases: narrowing the life cycle, one active at a time."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from support.factories import (
    activate_lot,
    apply,
    generate,
    history_rows,
    make_type,
    set_voucher_fields,
    voucher_rows,
)
from vouchers.adapters.db import schema
from vouchers.adapters.db.unit_of_work import SqlUnitOfWork
from vouchers.bootstrap import App
from vouchers.domain.lifecycle import BusinessDefinition, Process
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import (
    DefinitionNotFoundError,
    DuplicateError,
    InvalidTransitionError,
    ValidationError,
)
from vouchers.services import definitions
from vouchers.services.processes import Selection

P = Process
S = VoucherState


def define(
    app: App,
    code: str,
    restrictions: dict[Process, frozenset[VoucherState]],
    *,
    activate: bool = True,
) -> BusinessDefinition:
    return definitions.create_definition(
        BusinessDefinition(alternative_code=code, name=f"{code} rules", restrictions=restrictions),
        uow=app.uow(),
        clock=app.clock,
        actor="admin",
        activate=activate,
    )


def active_codes(app: App) -> list[str]:
    return [d.alternative_code for d in definitions.list_definitions(uow=app.uow()) if d.active]


def test_a_definition_narrowing_cancellation_to_draft_refuses_cancelling_an_activated_voucher(
    app: App,
) -> None:
    # Given an activated lot (vouchers 1-2), a draft lot (3-4) and a definition that lets
    # cancellation address drafts only
    make_type(app)
    activated = generate(app, "PREM", 2)
    activate_lot(app, activated)
    drafts = generate(app, "PREM", 2)
    define(app, "STRICT", {P.CANCEL: frozenset({S.DRAFT})})
    before, history_before = voucher_rows(app), history_rows(app)

    # When finance cancels an activated voucher, or the activated lot, it is refused
    with pytest.raises(
        InvalidTransitionError, match="voucher 1 is activated; cancel addresses draft"
    ):
        apply(app, P.CANCEL, Selection(number=1))
    with pytest.raises(InvalidTransitionError, match=f"lot {activated}.*cancel.*\\(draft\\)"):
        apply(app, P.CANCEL, Selection(lot=activated))
    assert voucher_rows(app) == before
    assert history_rows(app) == history_before

    # But drafts may still be cancelled, even in a selection that reaches both lots
    assert apply(app, P.CANCEL, Selection(number_from=1, number_to=3)) == 1
    assert apply(app, P.CANCEL, Selection(lot=drafts)) == 1
    states = {n: row["state"] for n, row in voucher_rows(app).items()}
    assert states == {1: "activated", 2: "activated", 3: "cancelled", 4: "cancelled"}


def test_deactivating_the_definition_restores_the_default_life_cycle(app: App) -> None:
    make_type(app)
    lot = generate(app, "PREM", 2)
    activate_lot(app, lot)
    define(app, "STRICT", {P.CANCEL: frozenset({S.DRAFT})})
    with pytest.raises(InvalidTransitionError):
        apply(app, P.CANCEL, Selection(lot=lot))

    definitions.deactivate_definitions(uow=app.uow())

    assert active_codes(app) == []
    assert definitions.get_definition("STRICT", uow=app.uow()).active is False
    assert apply(app, P.CANCEL, Selection(lot=lot)) == 2


def test_a_narrowed_purge_leaves_the_states_it_no_longer_addresses(app: App) -> None:
    make_type(app)
    lot = generate(app, "PREM", 4)
    set_voucher_fields(app, 3, 4, state=S.CANCELLED)
    define(app, "KEEP-DRAFTS", {P.PURGE: frozenset({S.CANCELLED})})

    assert apply(app, P.PURGE, Selection(lot=lot)) == 2

    states = {n: row["state"] for n, row in voucher_rows(app).items()}
    assert states == {1: "draft", 2: "draft", 3: "purged", 4: "purged"}


def test_a_process_narrowed_to_no_state_is_refused_for_every_voucher(app: App) -> None:
    make_type(app)
    generate(app, "PREM", 1)
    define(app, "FROZEN", {P.CANCEL: frozenset()})

    with pytest.raises(InvalidTransitionError, match="no state under the active definition"):
        apply(app, P.CANCEL, Selection(number=1))
    assert voucher_rows(app)[1]["state"] == "draft"


def test_a_definition_keeps_its_restrictions_in_storage(app: App) -> None:
    restrictions = {
        P.MODIFY: frozenset({S.DRAFT}),
        P.ACTIVATE: frozenset({S.ACCEPTED}),
        P.CANCEL: frozenset(),
        P.PURGE: frozenset({S.CANCELLED, S.EXPIRED}),
        P.EXPORT: frozenset({S.ACTIVATED}),
    }
    saved = define(app, "ALL", restrictions, activate=False)

    loaded = definitions.get_definition("ALL", uow=app.uow())
    assert loaded == saved
    assert dict(loaded.restrictions) == restrictions
    assert loaded.addresses(P.REJECT) == frozenset({S.DRAFT})  # unrestricted: the default
    assert loaded.active is False


def test_activating_a_definition_deactivates_the_active_one(app: App) -> None:
    make_type(app)
    lot = generate(app, "PREM", 2)
    activate_lot(app, lot)
    define(app, "A", {P.CANCEL: frozenset({S.DRAFT})})
    define(app, "B", {P.PURGE: frozenset({S.CANCELLED})}, activate=False)
    assert active_codes(app) == ["A"]

    activated = definitions.activate_definition("b", uow=app.uow())

    assert activated.active is True
    assert active_codes(app) == ["B"]
    # A no longer narrows cancellation; B narrows purging
    assert apply(app, P.CANCEL, Selection(number=1)) == 1
    set_voucher_fields(app, 2, state=S.DRAFT)
    assert apply(app, P.PURGE, Selection(lot=lot)) == 1
    assert voucher_rows(app)[2]["state"] == "draft"


def test_creating_an_active_definition_deactivates_the_active_one(app: App) -> None:
    define(app, "A", {})
    define(app, "B", {})
    assert active_codes(app) == ["B"]


class CrashBeforeCommit(SqlUnitOfWork):
    """A unit of work that fails where a lost connection would: at commit."""

    def commit(self) -> None:
        raise ConnectionError("connection lost at commit")


def test_switching_definitions_is_one_transaction(app: App) -> None:
    define(app, "A", {})
    define(app, "B", {}, activate=False)

    with pytest.raises(ConnectionError):
        definitions.activate_definition("B", uow=CrashBeforeCommit(app.engine))

    # Neither half of the switch happened: A is still the one active definition
    assert active_codes(app) == ["A"]


def test_the_database_refuses_a_second_active_definition(app: App) -> None:
    define(app, "A", {})
    define(app, "B", {}, activate=False)
    table = schema.business_definitions

    with pytest.raises(sa.exc.IntegrityError), app.engine.begin() as connection:
        connection.execute(
            sa.update(table).where(table.c.alternative_code == "B").values(active=True)
        )
    assert active_codes(app) == ["A"]


@pytest.mark.parametrize(
    ("restrictions", "complaint"),
    [
        ({P.CANCEL: frozenset({S.DRAFT, S.USED})}, "cancel can only be narrowed.*used"),
        ({P.ACTIVATE: frozenset({S.DRAFT})}, "activate can only be narrowed.*draft"),
        ({P.PURGE: frozenset({S.ACTIVATED})}, "purge can only be narrowed.*activated"),
        ({P.ACCEPT: frozenset({S.DRAFT})}, "cannot restrict accept"),
        ({P.REDEEM: frozenset({S.ACTIVATED})}, "cannot restrict redeem"),
    ],
    ids=["cancel-used", "activate-draft", "purge-activated", "accept", "redeem"],
)
def test_a_definition_that_widens_or_restricts_an_unrestrictable_process_is_refused(
    app: App, restrictions: dict[Process, frozenset[VoucherState]], complaint: str
) -> None:
    with pytest.raises(ValidationError, match=complaint):
        define(app, "WIDE", restrictions)
    assert definitions.list_definitions(uow=app.uow()) == []


def test_a_definition_code_is_unique(app: App) -> None:
    define(app, "A", {})
    with pytest.raises(DuplicateError):
        define(app, "A", {P.CANCEL: frozenset({S.DRAFT})})
    assert [d.restrictions for d in definitions.list_definitions(uow=app.uow())] == [{}]


def test_activating_an_unknown_definition_changes_nothing(app: App) -> None:
    define(app, "A", {})
    with pytest.raises(DefinitionNotFoundError):
        definitions.activate_definition("NOPE", uow=app.uow())
    assert active_codes(app) == ["A"]


def test_a_definition_created_with_a_lower_case_code_is_found_by_it(app: App) -> None:
    saved = define(app, " strict ", {P.CANCEL: frozenset({S.DRAFT})})

    assert saved.alternative_code == "STRICT"
    assert definitions.get_definition("strict", uow=app.uow()).active is True
    assert definitions.activate_definition("Strict", uow=app.uow()).alternative_code == "STRICT"
