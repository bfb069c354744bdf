"""What can be done to a lot from its page: the actions (generate, amend, accept, reject,
modify, activate, export, cancel, purge), which of them a user is offered, and the run
criteria a submitted action's form asks for.

An action is offered only when the user's roles grant it and some of the lot's vouchers
are in a state it addresses under the active business definition; under the four-eyes
rule whoever generated the lot is told that someone else must accept and activate it
instead of being offered buttons that would fail. The route (``lots.lot_action``) checks
everything again, and the services once more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from vouchers.domain.access import Permission, Principal
from vouchers.domain.exports import (
    Encryption,
    EncryptionKind,
    parse_format,
    parse_recipients,
)
from vouchers.domain.lifecycle import BusinessDefinition, Process, addressed_states
from vouchers.domain.lots import Lot, LotState
from vouchers.domain.vouchers import VoucherState
from vouchers.entrypoints.api.schemas_catalogue import parse_ref
from vouchers.entrypoints.web.console.forms import (
    FORM,
    FormErrors,
    date,
    optional,
    text,
    whole_number,
)
from vouchers.entrypoints.web.console.pages import actor, allowed
from vouchers.errors import ValidationError
from vouchers.services.exports import ExportRequest
from vouchers.services.processes import Selection
from vouchers.services.runs import criteria_of

ACTION_KEYWORDS = {
    "count": ("holds at most", "code space", "cannot add"),
    "expires_at": ("expiration",),
    "effective_at": ("effective",),
    "type": ("type",),
    "recipients": ("recipient", "age", "ssh"),
    "passphrase_env": ("passphrase", "environment"),
}


@dataclass(frozen=True)
class Action:
    """A lot action: the permission it needs and the process its run carries out."""

    name: str
    label: str
    permission: Permission
    process: Process


ACTIONS = {
    a.name: a
    for a in (
        Action("generate", "Generate vouchers", Permission.LOTS_GENERATE, Process.GENERATE),
        Action("amend", "Amend (add vouchers)", Permission.LOTS_WRITE, Process.GENERATE),
        Action("accept", "Accept", Permission.VOUCHERS_ACCEPT, Process.ACCEPT),
        Action("reject", "Reject", Permission.VOUCHERS_ACCEPT, Process.REJECT),
        Action("modify", "Modify", Permission.LOTS_WRITE, Process.MODIFY),
        Action("activate", "Activate", Permission.VOUCHERS_ACTIVATE, Process.ACTIVATE),
        Action("export", "Export", Permission.EXPORTS_REQUEST, Process.EXPORT),
        Action("cancel", "Cancel", Permission.VOUCHERS_CANCEL, Process.CANCEL),
        Action("purge", "Purge", Permission.VOUCHERS_PURGE, Process.PURGE),
    )
}
FOUR_EYES = frozenset({"accept", "activate"})


def available_actions(
    lot: Lot,
    counts: dict[VoucherState, int],
    principal: Principal,
    *,
    definition: BusinessDefinition | None,
    four_eyes: bool,
) -> tuple[list[Action], list[str]]:
    """The actions ``principal`` may take on ``lot`` now, and notes on those four eyes
    keeps from them."""
    shown: list[Action] = []
    notes: list[str] = []
    for action in ACTIONS.values():
        if not allowed(principal, action.permission):
            continue
        if action.name == "generate":
            possible = lot.state is LotState.DRAFT
        elif action.name == "amend":
            possible = lot.state is LotState.POSTED
        else:
            states = addressed_states(action.process, definition)
            possible = any(counts.get(state) for state in states)
        if not possible:
            continue
        if action.name in FOUR_EYES and four_eyes and lot.generated_by == actor(principal):
            notes.append(f"You generated this lot: another user must {action.name} it (four eyes).")
            continue
        shown.append(action)
    return shown, notes


def action_criteria(
    action: Action, lot: Lot, form: FormData, errors: FormErrors
) -> dict[str, Any] | None:
    """The run criteria of ``action`` on ``lot`` as the form asks for them; what the form
    gets wrong goes into ``errors``."""
    code = lot.alternative_code
    if action.name in {"generate", "amend"}:
        if action.name == "amend":
            errors.parse("count", lambda: whole_number(form, "count", high=10_000_000))
        return {"lot": code}
    if action.name == "modify":
        type_ref = text(form, "type", max_length=32) or None
        effective = errors.parse("effective_at", lambda: date(form, "effective_at"))
        expires = errors.parse("expires_at", lambda: date(form, "expires_at"))
        if type_ref is None and effective is None and expires is None:
            errors.add(FORM, "say what to change: the type or a validity date")
        return criteria_of(
            Selection(lot=code),
            type_ref=None if type_ref is None else parse_ref(type_ref),
            effective_at=effective,
            expires_at=expires,
        )
    if action.name == "purge":
        days = errors.parse(
            "days_after_expiration",
            lambda: whole_number(form, "days_after_expiration", low=0, high=36_500, required=False),
        )
        return criteria_of(Selection(lot=code, days_after_expiration=days))
    if action.name == "export":
        return errors.parse("format", lambda: _export_criteria(code, form))
    return criteria_of(Selection(lot=code))


def _export_criteria(lot_code: str, form: FormData) -> dict[str, Any]:
    """An export's criteria: its format and encryption; raises ValidationError."""
    export_format = parse_format(text(form, "format", max_length=8) or "csv")
    recipients = text(form, "recipients", max_length=50_000, multiline=True)
    passphrase_env = optional(form, "passphrase_env", max_length=100)
    if recipients and passphrase_env:
        raise ValidationError("choose recipients or a passphrase variable, not both")
    if recipients:
        encryption = Encryption(EncryptionKind.RECIPIENTS, recipients=parse_recipients(recipients))
    elif passphrase_env:
        encryption = Encryption(EncryptionKind.PASSPHRASE, passphrase_env=passphrase_env)
    else:
        encryption = Encryption()
    return ExportRequest(lot_code, export_format, encryption).as_criteria()
