"""Use cases for reading vouchers: one by number, a page of a lot, one by its code.

Reads return ``VoucherView``: the voucher, its code masked to the last four characters in
its lot's display format, and its state as of now (expiry is derived on read).
"""

from __future__ import annotations

from dataclasses import dataclass

from vouchers.domain.codes import CodeFormat
from vouchers.domain.exports import export_note
from vouchers.domain.lifecycle import Process, check_transition
from vouchers.domain.voucher_types import VoucherType
from vouchers.domain.vouchers import Voucher, VoucherState
from vouchers.errors import InvalidTransitionError, ValidationError, VoucherNotFoundError
from vouchers.services.ports import Clock, CodeVault, HistoryEntry, UnitOfWork, VoucherQuery


@dataclass(frozen=True)
class VoucherView:
    """A voucher as staff may see it."""

    voucher: Voucher
    masked_code: str | None
    state: VoucherState


def get_voucher(number: int, *, uow: UnitOfWork, clock: Clock) -> VoucherView:
    """A voucher by its public number; raises VoucherNotFoundError."""
    with uow:
        return _views(uow, [uow.vouchers.get(number)], clock)[0]


def list_vouchers(
    *,
    uow: UnitOfWork,
    clock: Clock,
    lot_ref: int | str | None = None,
    after: int = 0,
    limit: int = 100,
    type_ref: int | str | None = None,
    states: frozenset[VoucherState] | None = None,
    number_from: int | None = None,
    number_to: int | None = None,
    customer_ref: int | str | None = None,
    customer_id: int | None = None,
    text: str | None = None,
) -> list[VoucherView]:
    """A page of vouchers in number order after ``after``; every filter given must hold.

    ``states`` compare as of now (an activated voucher past expiration is expired); the
    customer (``customer_ref``, an id or external reference, or ``customer_id``) is the one
    a voucher was assigned to or redeemed by; ``text`` matches the code's last four
    characters or the notes. Raises the NotFound errors for an unknown lot, type or customer,
    ValidationError for a text longer than 100 characters.
    """
    if text is not None and len(text) > 100:
        raise ValidationError("search text has at most 100 characters")
    with uow:
        lot_id = None if lot_ref is None else uow.lots.get(lot_ref).id
        type_id = None if type_ref is None else uow.voucher_types.get(type_ref).id
        if customer_ref is not None:
            customer = uow.customers.get(customer_ref)
            if customer_id is not None and customer.id != customer_id:
                return []
            customer_id = customer.id
        query = VoucherQuery(
            now=clock(),
            states=states,
            type_id=type_id,
            number_from=number_from,
            number_to=number_to,
            customer_id=customer_id,
            text=text.strip() or None if text is not None else None,
        )
        found = uow.vouchers.list(lot_id=lot_id, after=after, limit=limit, query=query)
        return _views(uow, found, clock)


def find_voucher_by_code(
    code: str, *, uow: UnitOfWork, vault: CodeVault, clock: Clock
) -> VoucherView:
    """The voucher a typed code belongs to, found through its digest.

    The typed text is normalised the way each voucher type's code format does it (case,
    separators, look-alikes of its alphabet) and looked up under every live lookup key.
    Raises VoucherNotFoundError.
    """
    with uow:
        formats = {voucher_type.code_format for voucher_type in uow.voucher_types.list()}
        candidates = sorted({code_format.normalize(code) for code_format in formats})
        digests = [d for candidate in candidates for d in vault.digests(candidate)]
        voucher = uow.vouchers.find_by_digests(digests)
        if voucher is None:
            raise VoucherNotFoundError("no voucher has that code")
        return _views(uow, [voucher], clock)[0]


def _views(uow: UnitOfWork, vouchers: list[Voucher], clock: Clock) -> list[VoucherView]:
    now = clock()
    formats: dict[int, CodeFormat] = {}
    views = []
    for voucher in vouchers:
        if voucher.lot_id not in formats:
            lot = uow.lots.get(voucher.lot_id)
            formats[voucher.lot_id] = lot.code_format(uow.voucher_types.get(lot.type_id))
        tail = voucher.code_tail
        masked = None if tail is None else formats[voucher.lot_id].mask(tail)
        views.append(VoucherView(voucher, masked, voucher.state_at(now)))
    return views


def voucher_history(number: int, *, uow: UnitOfWork) -> list[HistoryEntry]:
    """A voucher's audit trail, oldest first, beginning with its generation.

    Two kinds of entry are derived rather than stored a million times: the generation
    (from the voucher and its lot: when and by whom it was generated) and each export
    (from the number ranges the export run recorded: "exported in run N by U").
    Entries of the same moment keep their order, exports after stored entries.
    Raises VoucherNotFoundError.
    """
    with uow:
        voucher = uow.vouchers.get(number)
        lot = uow.lots.get(voucher.lot_id)
        created = HistoryEntry(
            voucher_number=number,
            field="state",
            process="generate",
            from_value=None,
            to_value=_created_state(uow.voucher_types.get(lot.type_id)),
            at=voucher.created_at,
            by=lot.generated_by or lot.created_by or "",
        )
        exported = [
            HistoryEntry(
                voucher_number=number,
                field="secret",
                process=Process.EXPORT.value,
                from_value=None,
                to_value=None,
                at=record.at,
                by=record.by,
                run_id=record.run_id,
                note=export_note(record.run_id, record.by),
            )
            for record in uow.exports.covering(number)
        ]
        stored = uow.vouchers.history(number)
        return [created, *sorted([*stored, *exported], key=lambda entry: entry.at)]


def reveal_code(
    number: int, *, reason: str, uow: UnitOfWork, vault: CodeVault, clock: Clock, actor: str
) -> str:
    """The code of voucher ``number`` in clear, recorded in its history with the reason.

    Raises ValidationError without a reason, VoucherNotFoundError, InvalidTransitionError
    for a purged voucher, KeyMaterialError if the secret does not decrypt.
    """
    if not reason.strip():
        raise ValidationError("say why the code is revealed (--reason)")
    with uow:
        voucher = uow.vouchers.get(number)
        check_transition(number, voucher.state_at(clock()), Process.REVEAL)
        secret = uow.vouchers.secret(number)
        if secret is None:
            raise InvalidTransitionError(f"voucher {number} has no secret any more")
        code = vault.open(number, secret.ciphertext, secret.data_key_id)
        uow.vouchers.add_history(
            [
                HistoryEntry(
                    voucher_number=number,
                    field="secret",
                    process=Process.REVEAL.value,
                    from_value=None,
                    to_value=None,
                    at=clock(),
                    by=actor,
                    note=reason.strip(),
                )
            ]
        )
        uow.commit()
    return code


def _created_state(voucher_type: VoucherType) -> str:
    # auto_activate cannot change once a type exists, so the type still says it.
    return (VoucherState.ACTIVATED if voucher_type.auto_activate else VoucherState.DRAFT).value
