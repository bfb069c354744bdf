"""Customers: the accounts that redeem vouchers and hold wallets.

A customer is known by its external reference, the host platform's account number (the
VoIP portal's account, the broker's client id, the ISP's subscriber number), which is
unique. A blocked customer can neither redeem nor spend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from vouchers.errors import ValidationError

EXTERNAL_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,63}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9 ()-]{5,24}$")


class CustomerStatus(StrEnum):
    """Active customers may redeem and spend; blocked ones may not."""

    ACTIVE = "active"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class Customer:
    """An account that redeems vouchers; see the module docstring."""

    external_ref: str
    name: str = ""
    phone: str | None = None
    email: str | None = None
    kyc_verified: bool = False
    status: CustomerStatus = CustomerStatus.ACTIVE
    id: int | None = None
    created_at: datetime | None = None
    created_by: str | None = None

    def __post_init__(self) -> None:
        if not EXTERNAL_REF.match(self.external_ref):
            raise ValidationError(
                f"external reference {self.external_ref[:70]!r} must be 1-64 letters, digits "
                "or '_.:@+-', starting with a letter or digit"
            )
        if len(self.name) > 200:
            raise ValidationError("a customer name has at most 200 characters")
        if self.phone is not None and not PHONE.match(self.phone):
            raise ValidationError(f"phone number {self.phone[:30]!r} is not valid")
        if self.email is not None and (len(self.email) > 254 or not EMAIL.match(self.email)):
            raise ValidationError(f"e-mail address {self.email[:60]!r} is not valid")

    def require_id(self) -> int:
        """The stored id; a customer that was never stored has none."""
        if self.id is None:
            raise ValueError(f"customer {self.external_ref} has not been stored")
        return self.id
