"""The voucher life cycle: one table of processes, the states each addresses, and its result.

This is DESIGN.md §4 as data (after django-oscar's order ``pipeline``): ``ADDRESSES`` says
which states a process may act on by default, ``RESULTS`` where it moves them. An active
business definition may only narrow ``ADDRESSES`` for the restrictable processes.
``check_transition`` is the one guarded step every process goes through; anything not in
the table is refused with ``InvalidTransitionError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from vouchers.domain.voucher_types import ALTERNATIVE_CODE
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import InvalidTransitionError, ValidationError

S = VoucherState


class Process(StrEnum):
    """Everything that may change a voucher (and ``reveal``, which only reads its secret)."""

    GENERATE = "generate"
    AMEND = "amend"
    MODIFY = "modify"
    ACCEPT = "accept"
    REJECT = "reject"
    ACTIVATE = "activate"
    EXPORT = "export"
    CANCEL = "cancel"
    PURGE = "purge"
    REDEEM = "redeem"
    EXPIRE = "expire"
    REVERSE = "reverse"
    REVEAL = "reveal"


ADDRESSES: Mapping[Process, frozenset[VoucherState]] = MappingProxyType(
    {
        Process.MODIFY: frozenset({S.DRAFT, S.ACCEPTED, S.ACTIVATED}),
        Process.ACCEPT: frozenset({S.DRAFT}),
        Process.REJECT: frozenset({S.DRAFT}),
        Process.ACTIVATE: frozenset({S.ACCEPTED}),
        Process.EXPORT: frozenset({S.ACTIVATED}),
        Process.CANCEL: frozenset({S.DRAFT, S.ACCEPTED, S.REJECTED, S.ACTIVATED}),
        Process.PURGE: frozenset({S.DRAFT, S.ACCEPTED, S.REJECTED, S.CANCELLED, S.EXPIRED}),
        Process.REDEEM: frozenset({S.ACTIVATED}),
        Process.EXPIRE: frozenset({S.ACTIVATED}),
        Process.REVERSE: frozenset({S.USED}),
        Process.REVEAL: frozenset(set(S) - {S.PURGED}),
    }
)
"""The states each process may address by default."""

RESULTS: Mapping[Process, VoucherState | None] = MappingProxyType(
    {
        Process.MODIFY: None,  # type and validity change, the state does not
        Process.ACCEPT: S.ACCEPTED,
        Process.REJECT: S.REJECTED,
        Process.ACTIVATE: S.ACTIVATED,
        Process.EXPORT: None,
        Process.CANCEL: S.CANCELLED,
        Process.PURGE: S.PURGED,
        Process.REDEEM: S.USED,
        Process.EXPIRE: S.EXPIRED,
        Process.REVERSE: S.ACTIVATED,
        Process.REVEAL: None,
    }
)
"""Where each process moves a voucher it addresses (None: the state stays)."""

RESTRICTABLE: frozenset[Process] = frozenset(
    {Process.MODIFY, Process.ACTIVATE, Process.CANCEL, Process.PURGE, Process.EXPORT}
)
"""The processes a business definition may narrow (the CRM document's list)."""


@dataclass(frozen=True)
class BusinessDefinition:
    """Restrictions on the states each restrictable process may address.

    ``restrictions`` maps a process to the states it may still address; it must be a
    subset of the default, so a definition can only narrow the life cycle. Exactly one
    definition is active at a time (storage enforces it).
    """

    alternative_code: str
    name: str
    restrictions: Mapping[Process, frozenset[VoucherState]] = field(default_factory=dict)
    active: bool = False
    id: int | None = None

    def __post_init__(self) -> None:
        code = self.alternative_code.strip().upper()
        if not ALTERNATIVE_CODE.match(code):
            raise ValidationError(f"alternative code {self.alternative_code!r} is not valid")
        if not self.name.strip():
            raise ValidationError("a business definition needs a name")
        object.__setattr__(self, "alternative_code", code)
        for process, states in self.restrictions.items():
            if process not in RESTRICTABLE:
                raise ValidationError(f"a business definition cannot restrict {process}")
            widened = set(states) - ADDRESSES[process]
            if widened:
                raise ValidationError(
                    f"{process} can only be narrowed; it never addresses "
                    + ", ".join(sorted(widened))
                )
        object.__setattr__(
            self,
            "restrictions",
            MappingProxyType({p: frozenset(s) for p, s in self.restrictions.items()}),
        )

    def addresses(self, process: Process) -> frozenset[VoucherState]:
        """The states ``process`` may address under this definition."""
        return self.restrictions.get(process, ADDRESSES[process])


def addressed_states(
    process: Process, definition: BusinessDefinition | None = None
) -> frozenset[VoucherState]:
    """The states ``process`` may address, under the active definition if there is one."""
    if process not in ADDRESSES:
        raise InvalidTransitionError(f"{process} does not address existing vouchers")
    return definition.addresses(process) if definition else ADDRESSES[process]


def check_transition(
    number: int,
    state: VoucherState,
    process: Process,
    definition: BusinessDefinition | None = None,
) -> VoucherState:
    """The state voucher ``number`` moves to under ``process``; raises InvalidTransitionError.

    ``state`` is the voucher's state as of now (expiry derived). The error names the
    voucher, its state and the process.
    """
    allowed = addressed_states(process, definition)
    if state not in allowed:
        raise InvalidTransitionError(
            f"voucher {number} is {state}; {process} addresses "
            + (", ".join(sorted(allowed)) if allowed else "no state under the active definition")
        )
    result = RESULTS[process]
    return state if result is None else result


def parse_states(names: Iterable[str]) -> frozenset[VoucherState]:
    """States from their names; raises ValidationError for an unknown one."""
    given = [name.strip().lower() for name in names if name.strip()]
    unknown = [name for name in given if name not in {state.value for state in VoucherState}]
    if unknown:
        raise ValidationError("unknown voucher state: " + ", ".join(unknown))
    return frozenset(VoucherState(name) for name in given)
