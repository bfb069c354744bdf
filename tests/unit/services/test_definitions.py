"""Business definitions: create, read, activate and deactivate, with at most one active."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.fakes import FakeClock, FakeUnitOfWork
from vouchers.domain.lifecycle import ADDRESSES, BusinessDefinition, Process
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import DefinitionNotFoundError, DuplicateError
from vouchers.services import definitions

P, S = Process, VoucherState
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def create(
    uow: FakeUnitOfWork,
    clock: FakeClock,
    code: str,
    *,
    activate: bool = False,
    restrictions: dict[Process, frozenset[VoucherState]] | None = None,
) -> BusinessDefinition:
    return definitions.create_definition(
        BusinessDefinition(code, f"Definition {code}", restrictions or {}),
        uow=uow,
        clock=clock,
        actor="admin",
        activate=activate,
    )


def active_codes(uow: FakeUnitOfWork) -> list[str]:
    return [d.alternative_code for d in definitions.list_definitions(uow=uow) if d.active]


def test_a_new_definition_is_stored_inactive_with_its_restrictions(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    narrowed = {P.CANCEL: frozenset({S.DRAFT}), P.PURGE: frozenset()}

    saved = create(uow, clock, "SAFE", restrictions=narrowed)

    assert (saved.id, saved.alternative_code, saved.active) == (1, "SAFE", False)
    assert dict(saved.restrictions) == narrowed
    assert saved.addresses(P.CANCEL) == {S.DRAFT}
    assert saved.addresses(P.ACTIVATE) == ADDRESSES[P.ACTIVATE]
    assert definitions.get_definition(1, uow=uow) == saved
    assert definitions.get_definition("safe", uow=uow) == saved
    assert definitions.list_definitions(uow=uow) == [saved]
    assert definitions.active_definition(uow=uow) is None


def test_creating_an_active_definition_deactivates_the_one_active_before(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    first = create(uow, clock, "FIRST", activate=True)
    assert first.active

    second = create(uow, clock, "SECOND", activate=True)

    assert second.active
    assert active_codes(uow) == ["SECOND"]
    assert definitions.active_definition(uow=uow) == second
    assert not definitions.get_definition("FIRST", uow=uow).active


def test_activating_a_definition_makes_it_the_only_active_one(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    create(uow, clock, "FIRST", activate=True)
    second = create(uow, clock, "SECOND")

    shown = definitions.activate_definition("second", uow=uow)

    assert shown.active
    assert shown.id == second.id
    assert active_codes(uow) == ["SECOND"]
    assert definitions.activate_definition(1, uow=uow).alternative_code == "FIRST"
    assert active_codes(uow) == ["FIRST"]
    assert definitions.activate_definition(1, uow=uow).active  # again: no change
    assert active_codes(uow) == ["FIRST"]


def test_deactivating_leaves_every_definition_inactive(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    create(uow, clock, "FIRST", activate=True)
    create(uow, clock, "SECOND")

    definitions.deactivate_definitions(uow=uow)
    definitions.deactivate_definitions(uow=uow)  # with none active: fine

    assert active_codes(uow) == []
    assert len(definitions.list_definitions(uow=uow)) == 2


def test_a_taken_alternative_code_is_refused_and_nothing_changes(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    create(uow, clock, "SAFE")
    committed = uow.committed

    with pytest.raises(DuplicateError, match="SAFE"):
        create(uow, clock, "SAFE", activate=True)

    assert uow.committed == committed
    assert active_codes(uow) == []
    assert len(definitions.list_definitions(uow=uow)) == 1


def test_an_unknown_definition_is_not_found_and_the_active_one_stays(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    create(uow, clock, "SAFE", activate=True)

    with pytest.raises(DefinitionNotFoundError, match="'NOPE'"):
        definitions.get_definition("NOPE", uow=uow)
    with pytest.raises(DefinitionNotFoundError):
        definitions.activate_definition(7, uow=uow)

    assert active_codes(uow) == ["SAFE"]


def test_definitions_are_listed_oldest_first(uow: FakeUnitOfWork, clock: FakeClock) -> None:
    for code in ("ZED", "ALPHA", "MID"):
        create(uow, clock, code)

    assert [d.alternative_code for d in definitions.list_definitions(uow=uow)] == [
        "ZED",
        "ALPHA",
        "MID",
    ]


def test_an_uncommitted_change_of_the_active_definition_is_seen_by_no_one_else(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    create(uow, clock, "SAFE", activate=True)
    other = FakeUnitOfWork(uow.database)

    with uow:
        uow.definitions.set_active(None)
        assert uow.definitions.active() is None
        with other:
            active = other.definitions.active()
            assert active is not None
            assert active.alternative_code == "SAFE"

    assert active_codes(uow) == ["SAFE"]


def test_a_definition_given_a_lower_case_code_can_be_created_active_and_found(
    uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    saved = create(uow, clock, "safe", activate=True)

    assert saved.active
    assert definitions.get_definition("safe", uow=uow).id == saved.id


# (operation, argument): create (active when the argument is odd), activate the existing
# definition the argument picks, or deactivate all.
_OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["create", "activate", "deactivate"]), st.integers(0, 5)),
    max_size=12,
)


@settings(max_examples=50, deadline=None)
@given(operations=_OPERATIONS)
def test_at_most_one_definition_is_active_and_it_is_the_last_one_activated(
    operations: list[tuple[str, int]],
) -> None:
    uow, clock = FakeUnitOfWork(), FakeClock(NOW)
    codes: list[str] = []
    expected: str | None = None

    for operation, argument in operations:
        if operation == "create":
            codes.append(f"DEF{len(codes)}")
            create(uow, clock, codes[-1], activate=argument % 2 == 1)
            expected = codes[-1] if argument % 2 == 1 else expected
        elif operation == "activate" and codes:
            expected = codes[argument % len(codes)]
            definitions.activate_definition(expected, uow=uow)
        elif operation == "deactivate":
            definitions.deactivate_definitions(uow=uow)
            expected = None
        assert active_codes(uow) == ([] if expected is None else [expected])
    with uow:
        active = uow.definitions.active()
        assert (active.alternative_code if active else None) == expected
