"""Life-cycle processes over many vouchers at once: accept, reject, activate, cancel,
purge, expire and modify, for one voucher, a lot, a type or a number range.

Each call is one transaction: the matching vouchers move and each gets its history row,
or nothing happens. The states a process addresses come from the life-cycle table,
narrowed by the active business definition. One voucher that cannot make the move is
refused with ``InvalidTransitionError`` naming it; a bulk selection with no voucher in an
addressed state is refused the same way (the expiry sweep, which may find nothing, is
not). Accept and activate follow the four-eyes rule when it is on: whoever generated a
lot cannot accept or activate its vouchers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

from vouchers.domain.lifecycle import RESULTS, Process, addressed_states, check_transition
from vouchers.domain.lots import Lot
from vouchers.domain.vouchers import Voucher, VoucherState
from vouchers.errors import FourEyesError, InvalidTransitionError, ValidationError
from vouchers.services.ports import Clock, Transition, UnitOfWork, VoucherCriteria

FOUR_EYES_PROCESSES = frozenset({Process.ACCEPT, Process.ACTIVATE})

# Which selections each process accepts (DESIGN.md §4, "selection").
_SELECTIONS: dict[Process, frozenset[str]] = {
    Process.ACCEPT: frozenset({"lot", "number"}),
    Process.REJECT: frozenset({"lot", "number"}),
    Process.ACTIVATE: frozenset({"lot", "voucher_type", "range"}),
    Process.CANCEL: frozenset({"lot", "voucher_type", "range", "number"}),
    Process.PURGE: frozenset({"lot", "voucher_type", "range", "states", "days"}),
    Process.EXPIRE: frozenset({"lot", "voucher_type", "range", "sweep"}),
    Process.MODIFY: frozenset({"lot", "number"}),
}


@dataclass(frozen=True)
class Selection:
    """Which vouchers a process is asked to address; every given part must hold."""

    lot: int | str | None = None
    voucher_type: int | str | None = None
    number_from: int | None = None
    number_to: int | None = None
    number: int | None = None
    states: frozenset[VoucherState] | None = None
    days_after_expiration: int | None = None

    def parts(self) -> set[str]:
        """The names of the parts given, as ``_SELECTIONS`` spells them."""
        given = {
            "lot": self.lot is not None,
            "voucher_type": self.voucher_type is not None,
            "range": self.number_from is not None or self.number_to is not None,
            "number": self.number is not None,
            "states": self.states is not None,
            "days": self.days_after_expiration is not None,
        }
        return {name for name, present in given.items() if present}

    def describe(self) -> str:
        """For messages: 'lot PREM-000001', 'numbers 10-20', …"""
        words = []
        if self.lot is not None:
            words.append(f"lot {self.lot}")
        if self.voucher_type is not None:
            words.append(f"type {self.voucher_type}")
        if self.number_from is not None or self.number_to is not None:
            words.append(f"numbers {self.number_from or 1}-{self.number_to or '…'}")
        if self.number is not None:
            words.append(f"voucher {self.number}")
        return ", ".join(words) or "all vouchers"


@dataclass(frozen=True)
class ProcessOutcome:
    """What a process did."""

    process: Process
    count: int


def run_process(
    process: Process,
    selection: Selection,
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: str,
    four_eyes: bool = True,
    run_id: int | None = None,
) -> ProcessOutcome:
    """Apply ``process`` to the selected vouchers in one transaction.

    Raises ValidationError for a selection the process does not take,
    InvalidTransitionError when nothing selected is in an addressed state, FourEyesError,
    and the NotFound errors for unknown lots, types or vouchers.
    """
    check_selection(process, selection)
    to_state = _result_state(process)
    now = clock()
    with uow:
        definition = uow.definitions.active()
        states = addressed_states(process, definition)
        if selection.states is not None:
            states &= selection.states
        if selection.number is not None:
            voucher = uow.vouchers.get(selection.number)
            check_transition(voucher.number, voucher.state_at(now), process, definition)
        criteria = _criteria(uow, selection, states, now)
        if process is Process.EXPIRE:
            # The sweep writes down what reads already derive: activated and past expiry.
            criteria = dataclasses.replace(
                criteria,
                states=frozenset({VoucherState.EXPIRED}),
                stored_state=VoucherState.ACTIVATED,
            )
        if (
            four_eyes
            and process in FOUR_EYES_PROCESSES
            and actor in uow.vouchers.generated_by(criteria)
        ):
            raise FourEyesError(
                f"{actor} generated vouchers in {selection.describe()}; "
                f"another user must {process} them"
            )
        count = uow.vouchers.transition(
            Transition(
                criteria=criteria,
                process=process.value,
                to_state=to_state,
                actor=actor,
                run_id=run_id,
                wipe_secrets=process is Process.PURGE,
            )
        )
        if count == 0 and "sweep" not in _SELECTIONS[process]:
            raise InvalidTransitionError(
                f"no voucher in {selection.describe()} is in a state {process} addresses ("
                + ", ".join(sorted(states))
                + ")"
            )
        uow.commit()
    return ProcessOutcome(process, count)


def modify_vouchers(
    selection: Selection,
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: str,
    type_ref: int | str | None = None,
    effective_at: datetime | None = None,
    expires_at: datetime | None = None,
    value_minor: int | None = None,
    run_id: int | None = None,
) -> ProcessOutcome:
    """Change the type and validity dates of the selected vouchers; never their value.

    Raises ValidationError when asked to change the value, for a type of another currency
    or value, or for an expiration not after the effective date; InvalidTransitionError as
    ``run_process`` does.
    """
    check_selection(Process.MODIFY, selection)
    if value_minor is not None:
        raise ValidationError("modify never changes a voucher's value")
    for name, moment in (("effective", effective_at), ("expiration", expires_at)):
        if moment is not None and moment.utcoffset() is None:
            raise ValidationError(f"the {name} date needs a time zone")
    now = clock()
    with uow:
        # The lot (or the one voucher) stands for the vouchers' currency, value and dates.
        reference = (
            uow.lots.get(selection.lot)
            if selection.lot is not None
            else uow.vouchers.get(_number(selection))
        )
        changes = _modifications(uow, reference, type_ref, effective_at, expires_at)
        definition = uow.definitions.active()
        states = addressed_states(Process.MODIFY, definition)
        if selection.number is not None:
            voucher = uow.vouchers.get(selection.number)
            check_transition(voucher.number, voucher.state_at(now), Process.MODIFY, definition)
        criteria = _criteria(uow, selection, states, now)
        count = uow.vouchers.modify(criteria, changes, actor=actor, run_id=run_id)
        if selection.lot is not None and criteria.lot_id is not None:
            # The lot's own type and validity follow, so later checks see what vouchers have.
            uow.lots.modify(criteria.lot_id, changes)
        if count == 0:
            raise InvalidTransitionError(
                f"no voucher in {selection.describe()} is in a state modify addresses"
            )
        uow.commit()
    return ProcessOutcome(Process.MODIFY, count)


def _modifications(
    uow: UnitOfWork,
    reference: Lot | Voucher,
    type_ref: int | str | None,
    effective_at: datetime | None,
    expires_at: datetime | None,
) -> dict[str, object]:
    """The validated column changes of a modify request."""
    changes: dict[str, object] = {}
    if type_ref is not None:
        new_type = uow.voucher_types.get(type_ref)
        if new_type.currency.code != reference.currency:
            raise ValidationError(
                f"type {new_type.alternative_code} is in {new_type.currency.code}, "
                f"the vouchers in {reference.currency}"
            )
        if new_type.value_minor is not None and new_type.value_minor != reference.value_minor:
            raise ValidationError(
                f"type {new_type.alternative_code} has another value; modify never "
                "changes a voucher's value"
            )
        changes["type_id"] = new_type.id
    if effective_at is not None:
        changes["effective_at"] = effective_at
    if expires_at is not None:
        changes["expires_at"] = expires_at
    if not changes:
        raise ValidationError("nothing to modify: give a type or validity dates")
    if (expires_at or reference.expires_at) <= (effective_at or reference.effective_at):
        raise ValidationError("the expiration date must come after the effective date")
    return changes


def check_selection(process: Process, selection: Selection) -> None:
    """Raises ValidationError unless ``process`` accepts this kind of selection."""
    allowed = _SELECTIONS.get(process)
    if allowed is None:
        raise ValidationError(f"{process} is not a bulk process")
    parts = selection.parts()
    if not parts and "sweep" not in allowed:
        raise ValidationError(f"{process} needs a selection: one of " + ", ".join(sorted(allowed)))
    extra = parts - allowed
    if extra:
        raise ValidationError(f"{process} cannot select by " + ", ".join(sorted(extra)))
    if selection.days_after_expiration is not None and selection.days_after_expiration < 0:
        raise ValidationError("days after expiration cannot be negative")
    low, high = selection.number_from, selection.number_to
    if low is not None and high is not None and low > high:
        raise ValidationError(f"the number range {low}-{high} is empty")


def _result_state(process: Process) -> VoucherState:
    result = RESULTS.get(process)
    if result is None:
        raise ValidationError(f"{process} does not change the state of vouchers")
    return result


def _criteria(
    uow: UnitOfWork, selection: Selection, states: frozenset[VoucherState], now: datetime
) -> VoucherCriteria:
    lot_id = None if selection.lot is None else uow.lots.get(selection.lot).id
    type_id = (
        None if selection.voucher_type is None else uow.voucher_types.get(selection.voucher_type).id
    )
    low, high = selection.number_from, selection.number_to
    if selection.number is not None:  # every given part must hold: intersect
        low = selection.number if low is None else max(low, selection.number)
        high = selection.number if high is None else min(high, selection.number)
    days = selection.days_after_expiration
    return VoucherCriteria(
        states=states,
        now=now,
        lot_id=lot_id,
        type_id=type_id,
        number_from=low,
        number_to=high,
        expired_before=None if days is None else now - timedelta(days=days),
    )


def _number(selection: Selection) -> int:
    if selection.number is None:
        raise ValidationError("select a lot or one voucher")
    return selection.number
