"""The life-cycle table: every listed move gives its result, every other move is refused.

``MOVES`` below is DESIGN.md §4 written out by hand, independently of ``ADDRESSES`` and
``RESULTS``: the walk over every process and every state checks the code against the
design, not against itself.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vouchers.domain.lifecycle import (
    ADDRESSES,
    RESTRICTABLE,
    RESULTS,
    BusinessDefinition,
    Process,
    addressed_states,
    check_transition,
    parse_states,
)
from vouchers.domain.money import currency
from vouchers.domain.voucher_types import VoucherKind, VoucherType
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import InvalidTransitionError, ValidationError

P, S = Process, VoucherState

MOVES: dict[tuple[Process, VoucherState], VoucherState] = {
    (P.MODIFY, S.DRAFT): S.DRAFT,
    (P.MODIFY, S.ACCEPTED): S.ACCEPTED,
    (P.MODIFY, S.ACTIVATED): S.ACTIVATED,
    (P.ACCEPT, S.DRAFT): S.ACCEPTED,
    (P.REJECT, S.DRAFT): S.REJECTED,
    (P.ACTIVATE, S.ACCEPTED): S.ACTIVATED,
    (P.EXPORT, S.ACTIVATED): S.ACTIVATED,
    **{(P.CANCEL, s): S.CANCELLED for s in (S.DRAFT, S.ACCEPTED, S.REJECTED, S.ACTIVATED)},
    **{(P.PURGE, s): S.PURGED for s in (S.DRAFT, S.ACCEPTED, S.REJECTED, S.CANCELLED, S.EXPIRED)},
    (P.REDEEM, S.ACTIVATED): S.USED,
    (P.EXPIRE, S.ACTIVATED): S.EXPIRED,
    (P.REVERSE, S.USED): S.ACTIVATED,
    # Reveal reads the secret of any voucher that still has one; the state stays.
    **{(P.REVEAL, s): s for s in S if s is not S.PURGED},
}
"""(process, state as of now) → the state after the move: DESIGN.md §4."""

LOT_PROCESSES = {P.GENERATE, P.AMEND}  # they act on lots, never on existing vouchers

EVERY_MOVE = [(process, state) for process in Process for state in VoucherState]


@pytest.mark.parametrize(("process", "state"), EVERY_MOVE, ids=str)
def test_every_listed_move_gives_its_result_and_every_other_move_is_refused(
    process: Process, state: VoucherState
) -> None:
    expected = MOVES.get((process, state))

    if expected is not None:
        assert check_transition(7, state, process) is expected
        return
    with pytest.raises(InvalidTransitionError) as refused:
        check_transition(7, state, process)
    if process in LOT_PROCESSES:
        assert str(refused.value) == f"{process} does not address existing vouchers"
    else:
        assert re.match(rf"voucher 7 is {state}; {process} addresses \w", str(refused.value))


def test_the_tables_cover_exactly_the_processes_that_act_on_existing_vouchers() -> None:
    assert set(ADDRESSES) == set(RESULTS) == set(Process) - LOT_PROCESSES
    assert {(p, s) for p, states in ADDRESSES.items() for s in states} == set(MOVES)


def test_the_refusal_lists_the_states_the_process_does_address() -> None:
    with pytest.raises(InvalidTransitionError) as refused:
        check_transition(12, S.USED, P.CANCEL)

    assert str(refused.value) == "voucher 12 is used; cancel addresses accepted, activated, " + (
        "draft, rejected"
    )


def test_a_purged_voucher_can_never_move_again() -> None:
    assert not [p for p, states in ADDRESSES.items() if S.PURGED in states]


def test_the_tables_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        ADDRESSES[P.ACCEPT] = frozenset(S)  # type: ignore[index]
    with pytest.raises(TypeError):
        RESULTS[P.ACCEPT] = S.USED  # type: ignore[index]


# -- business definitions -------------------------------------------------------------------


@pytest.mark.parametrize("process", sorted(set(Process) - RESTRICTABLE))
def test_a_definition_cannot_restrict_a_process_outside_the_restrictable_list(
    process: Process,
) -> None:
    with pytest.raises(ValidationError, match=f"cannot restrict {process}"):
        BusinessDefinition("STRICT", "Strict", {process: frozenset()})


def test_the_restrictable_processes_are_the_crm_documents_list() -> None:
    assert {P.MODIFY, P.ACTIVATE, P.CANCEL, P.PURGE, P.EXPORT} == RESTRICTABLE


def test_a_definition_can_only_narrow_never_widen() -> None:
    with pytest.raises(ValidationError, match=r"activate can only be narrowed.*draft, rejected"):
        BusinessDefinition(
            "WIDE", "Wide", {P.ACTIVATE: frozenset({S.ACCEPTED, S.DRAFT, S.REJECTED})}
        )


@given(data=st.data(), process=st.sampled_from(sorted(RESTRICTABLE)))
def test_a_narrowed_process_addresses_exactly_the_kept_states_and_others_keep_the_default(
    data: st.DataObject, process: Process
) -> None:
    kept = data.draw(st.frozensets(st.sampled_from(sorted(ADDRESSES[process]))), label="kept")
    definition = BusinessDefinition("NARROW", "Narrow", {process: set(kept)})  # type: ignore[dict-item]

    assert definition.addresses(process) == kept
    assert addressed_states(process, definition) == kept
    for other in set(ADDRESSES) - {process}:
        assert addressed_states(other, definition) == ADDRESSES[other]
    for state in VoucherState:
        if state in kept:
            assert check_transition(3, state, process, definition) is MOVES[(process, state)]
        else:
            with pytest.raises(InvalidTransitionError, match=f"voucher 3 is {state}"):
                check_transition(3, state, process, definition)


def test_without_a_definition_a_process_addresses_its_default_states() -> None:
    for process, states in ADDRESSES.items():
        assert addressed_states(process) == states
        assert addressed_states(process, None) == states


def test_a_process_narrowed_to_nothing_is_refused_with_a_message_saying_so() -> None:
    definition = BusinessDefinition("FROZEN", "No activation", {P.ACTIVATE: frozenset()})

    with pytest.raises(InvalidTransitionError, match="no state under the active definition"):
        check_transition(5, S.ACCEPTED, P.ACTIVATE, definition)


def test_a_definitions_restrictions_are_frozen_copies() -> None:
    kept = {S.DRAFT}
    restrictions = {P.CANCEL: kept}
    definition = BusinessDefinition("COPY", "Copy", restrictions)  # type: ignore[arg-type]

    kept.add(S.ACTIVATED)
    restrictions[P.PURGE] = {S.DRAFT}

    assert definition.addresses(P.CANCEL) == {S.DRAFT}
    assert definition.addresses(P.PURGE) == ADDRESSES[P.PURGE]
    with pytest.raises(TypeError):
        definition.restrictions[P.CANCEL] = frozenset()  # type: ignore[index]


def test_lot_processes_address_no_voucher_even_under_a_definition() -> None:
    definition = BusinessDefinition("ANY", "Any")

    for process in LOT_PROCESSES:
        with pytest.raises(InvalidTransitionError, match=f"{process} does not address"):
            addressed_states(process, definition)


# -- parse_states ---------------------------------------------------------------------------


def test_states_are_parsed_by_name_ignoring_case_spaces_and_blanks() -> None:
    assert parse_states([" Draft", "EXPIRED ", "", "  "]) == {S.DRAFT, S.EXPIRED}
    assert parse_states([]) == frozenset()
    assert parse_states(s.value for s in S) == set(S)


def test_an_unknown_state_name_is_refused_naming_what_was_given() -> None:
    with pytest.raises(ValidationError, match=r"unknown voucher state: activ"):
        parse_states(["draft", "activ"])


def test_an_unknown_state_from_a_generator_is_named_in_the_error() -> None:
    with pytest.raises(ValidationError, match="activ"):
        parse_states(name for name in ["draft", "activ"])


def test_only_an_access_type_names_an_internet_plan() -> None:
    access = VoucherType(
        alternative_code="WIFI1D", name="Day pass", currency=currency("USD"),
        kind=VoucherKind.ACCESS, plan_code="DAY",
    )  # fmt: skip
    assert access.plan_code == "DAY"
    with pytest.raises(ValidationError, match="access"):
        VoucherType(
            alternative_code="PREM", name="P", currency=currency("EUR"), value_minor=1,
            plan_code="DAY",
        )  # fmt: skip
