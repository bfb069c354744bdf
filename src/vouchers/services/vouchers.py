"""Use cases for reading vouchers: one by number, a page of a lot, one by its code.

Reads return ``VoucherView``: the voucher, its code masked to the last four characters in
its lot's display format, and its state as of now (expiry is derived on read).
"""

from __future__ import annotations

from dataclasses import dataclass

from vouchers.domain.codes import CodeFormat
from vouchers.domain.vouchers import Voucher, VoucherState
from vouchers.errors import VoucherNotFoundError
from vouchers.services.ports import Clock, CodeVault, UnitOfWork


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
) -> list[VoucherView]:
    """A page of vouchers in number order after ``after``, optionally of one lot."""
    with uow:
        lot_id = None if lot_ref is None else uow.lots.get(lot_ref).id
        return _views(uow, uow.vouchers.list(lot_id=lot_id, after=after, limit=limit), clock)


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
