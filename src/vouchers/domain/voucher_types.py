"""Voucher types: the templates vouchers are generated from.

A type fixes what a voucher is worth (a fixed value, or a value chosen per lot), what it
credits on redemption (its kind and bonus rule), what it may be spent on, and how its
secret codes look. Lots and vouchers copy what they need from it when they are created,
so later edits to a type never change vouchers already issued.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from vouchers.domain.codes import CodeFormat
from vouchers.domain.money import Currency, Money
from vouchers.errors import ValidationError

ALTERNATIVE_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{0,31}$")


class VoucherKind(StrEnum):
    """What redeeming a voucher of the type does."""

    STORED_VALUE = "stored_value"
    TOPUP_BONUS = "topup_bonus"
    ACCESS = "access"


class ValueOption(StrEnum):
    """Whether the value is set by the type or chosen for each lot."""

    FIXED = "fixed"
    VARIABLE = "variable"


@dataclass(frozen=True)
class BonusRule:
    """The top-up bonus: paid top-up P ≥ minimum activation earns P × (multiplier − 1) + addition.

    Amounts are in the type's currency, in minor units.
    """

    minimum_activation_minor: int = 0
    multiplier: Decimal = Decimal(1)
    addition_minor: int = 0

    def __post_init__(self) -> None:
        if self.minimum_activation_minor < 0 or self.addition_minor < 0:
            raise ValidationError("minimum activation and addition cannot be negative")
        if not self.multiplier.is_finite() or self.multiplier < 1:
            raise ValidationError("the multiplier must be at least 1 (1.1 gives a 10% bonus)")


class PerCustomer(StrEnum):
    """How often one customer may redeem vouchers of a type."""

    UNLIMITED = "unlimited"
    ONCE_PER_TYPE = "once_per_type"
    ONCE_PER_LOT = "once_per_lot"


@dataclass(frozen=True)
class RedemptionRules:
    """Who may redeem vouchers of a type (the deposit-voucher document's redemption rules)."""

    per_customer: PerCustomer = PerCustomer.UNLIMITED
    first_topup_only: bool = False
    kyc_required: bool = False


@dataclass(frozen=True)
class VoucherType:
    """A template for vouchers; see the module docstring."""

    alternative_code: str
    name: str
    currency: Currency
    kind: VoucherKind = VoucherKind.STORED_VALUE
    value_option: ValueOption = ValueOption.FIXED
    value_minor: int | None = None
    extra_value_minor: int = 0
    bonus: BonusRule = field(default_factory=BonusRule)
    products: tuple[str, ...] = ()
    product_types: tuple[str, ...] = ()
    code_format: CodeFormat = field(default_factory=CodeFormat)
    default_payment_type: str = "voucher"
    validity_days: int | None = 365
    auto_activate: bool = False
    notes: str = ""
    plan_code: str | None = None  # the internet plan an access voucher grants
    rules: RedemptionRules = field(default_factory=RedemptionRules)
    id: int | None = None
    created_at: datetime | None = None
    created_by: str | None = None

    def __post_init__(self) -> None:
        if not ALTERNATIVE_CODE.match(self.alternative_code):
            raise ValidationError(
                f"alternative code {self.alternative_code!r} must be 1-32 upper-case letters, "
                "digits, '.', '_' or '-', starting with a letter or digit"
            )
        if not self.name.strip():
            raise ValidationError("a voucher type needs a name")
        if self.value_option is ValueOption.FIXED:
            if self.kind is VoucherKind.STORED_VALUE and not self.value_minor:
                raise ValidationError("a fixed-value type needs a value above zero")
        elif self.value_minor is not None:
            raise ValidationError("a variable-value type takes its value from each lot, not here")
        if (self.value_minor or 0) < 0 or self.extra_value_minor < 0:
            raise ValidationError("values cannot be negative")
        if self.plan_code is not None and self.kind is not VoucherKind.ACCESS:
            raise ValidationError("only access types name an internet plan")
        if self.validity_days is not None and self.validity_days <= 0:
            raise ValidationError("the default validity must be a positive number of days")

    @property
    def restricts_products(self) -> bool:
        """Whether vouchers of the type pay only for the listed products or product types."""
        return bool(self.products or self.product_types)

    @property
    def value(self) -> Money | None:
        """The fixed value, or None for variable-value types."""
        return None if self.value_minor is None else Money(self.value_minor, self.currency)

    @property
    def extra_value(self) -> Money:
        """The extra (free) value each voucher carries on top of its value."""
        return Money(self.extra_value_minor, self.currency)


def parse_multiplier(text: str) -> Decimal:
    """A multiplier such as ``1.1``; raises ValidationError for anything else."""
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValidationError(f"multiplier {text!r} is not a number") from exc
    if not value.is_finite() or value < 1 or value > 1000:
        raise ValidationError(f"multiplier {text!r} must be between 1 and 1000")
    return value


def normalise_alternative_code(text: str) -> str:
    """Alternative codes are compared upper-case and without surrounding spaces."""
    return text.strip().upper()
