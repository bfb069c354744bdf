"""Vouchers: one secret code each, with a public number and a life-cycle state.

The code itself never appears here: storage keeps a digest and a ciphertext, and
everything that shows a voucher shows its masked tail. Expiry is derived on read: an
activated voucher past its expiration date *is* expired even before the sweep writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class VoucherState(StrEnum):
    """The life-cycle states of DESIGN.md §4."""

    DRAFT = "draft"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    ACTIVATED = "activated"
    USED = "used"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    PURGED = "purged"


@dataclass(frozen=True)
class Voucher:
    """What may be shown of a voucher: everything but its secret."""

    number: int
    lot_id: int
    type_id: int
    state: VoucherState
    value_minor: int
    extra_value_minor: int
    currency: str
    effective_at: datetime
    expires_at: datetime
    code_tail: str | None
    created_at: datetime
    customer_id: int | None = None  # the customer it was assigned to
    used_at: datetime | None = None
    used_by: int | None = None  # the customer who redeemed it

    def state_at(self, now: datetime) -> VoucherState:
        """The state as of ``now``: activated vouchers past expiration show as expired."""
        if self.state is VoucherState.ACTIVATED and now >= self.expires_at:
            return VoucherState.EXPIRED
        return self.state


def code_tail(code: str) -> str:
    """The last four characters of a canonical code: all that is kept for masked display."""
    return code[-4:]
