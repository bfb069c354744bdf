"""Lots: batches of vouchers created together.

A lot takes its type, value and validity from what the operator asked for and its type's
defaults; its vouchers copy those values when they are generated. A lot is ``draft``
until generation has written every one of its vouchers, and only then ``posted``; a
generation that stopped half-way leaves a draft lot with ``generated_count < count``,
which the next run continues. When generation first starts, the lot reserves one
contiguous block of voucher numbers (from ``first_number``), so its vouchers are
numbered without gaps even when generation is interrupted and resumed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from vouchers.domain.codes import CodeFormat
from vouchers.domain.voucher_types import ALTERNATIVE_CODE, ValueOption, VoucherType
from vouchers.errors import InvalidTransitionError, ValidationError

MAX_LOT_SIZE = 10_000_000


class LotState(StrEnum):
    """Draft until every voucher exists; posted lots cannot be edited, only amended."""

    DRAFT = "draft"
    POSTED = "posted"


@dataclass(frozen=True)
class Lot:
    """A batch of vouchers of one type; see the module docstring."""

    alternative_code: str
    type_id: int
    count: int
    value_minor: int
    extra_value_minor: int
    currency: str
    effective_at: datetime
    expires_at: datetime
    prefix: str | None = None
    description: str = ""
    state: LotState = LotState.DRAFT
    generated_count: int = 0
    first_number: int | None = None
    block_start: int = 0  # index of the first voucher numbered from first_number
    generated_by: str | None = None
    type_code: str | None = None  # the type's alternative code, for display
    id: int | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    posted_at: datetime | None = None

    def code_format(self, voucher_type: VoucherType) -> CodeFormat:
        """The type's code format, with this lot's prefix when it sets one."""
        if self.prefix is None:
            return voucher_type.code_format
        return dataclasses.replace(voucher_type.code_format, prefix=self.prefix)

    def require_id(self) -> int:
        """The id of a stored lot; raises ValidationError for one never saved."""
        if self.id is None:
            raise ValidationError(f"lot {self.alternative_code} has not been saved")
        return self.id

    def amended(self, added: int) -> Lot:
        """This lot with ``added`` more vouchers to generate, in a new block of numbers.

        Raises InvalidTransitionError unless the lot is posted, ValidationError for a count
        that is not positive or would take the lot past its maximum size.
        """
        if self.state is not LotState.POSTED:
            raise InvalidTransitionError(
                f"lot {self.alternative_code} is {self.state}; amend needs a posted lot"
            )
        if not 0 < added <= MAX_LOT_SIZE - self.count:
            raise ValidationError(
                f"a lot holds at most {MAX_LOT_SIZE:,} vouchers; cannot add {added:,}"
            )
        return dataclasses.replace(
            self,
            count=self.count + added,
            state=LotState.DRAFT,
            first_number=None,
            block_start=self.count,
            posted_at=None,
        )

    def ensure_generatable(self) -> None:
        """Raises InvalidTransitionError unless generation may (continue to) run."""
        if self.state is not LotState.DRAFT:
            raise InvalidTransitionError(
                f"lot {self.alternative_code} is {self.state}; generate needs a draft lot"
            )


def new_lot(
    voucher_type: VoucherType,
    *,
    alternative_code: str,
    count: int,
    now: datetime,
    value_minor: int | None = None,
    extra_value_minor: int | None = None,
    effective_at: datetime | None = None,
    expires_at: datetime | None = None,
    validity_days: int | None = None,
    prefix: str | None = None,
    description: str = "",
    created_by: str | None = None,
) -> Lot:
    """A draft lot of ``voucher_type``, validated; raises ValidationError."""
    if not ALTERNATIVE_CODE.match(alternative_code):
        raise ValidationError(f"lot alternative code {alternative_code!r} is not valid")
    if not 0 < count <= MAX_LOT_SIZE:
        raise ValidationError(f"count must be between 1 and {MAX_LOT_SIZE:,}, not {count}")
    value, extra = _lot_values(voucher_type, value_minor, extra_value_minor)
    start = _aware("effective", effective_at or now)
    days = voucher_type.validity_days if validity_days is None else validity_days
    if days is not None and days <= 0:
        raise ValidationError(f"the validity must be a positive number of days, not {days}")
    if expires_at is not None:
        end = _aware("expiration", expires_at)
    elif days is not None:
        end = start + timedelta(days=days)
    else:
        raise ValidationError("the lot needs an expiration date (the type sets no validity)")
    if end <= start:
        raise ValidationError("the expiration date must come after the effective date")
    lot = Lot(
        alternative_code=alternative_code,
        type_id=_require_id(voucher_type),
        count=count,
        value_minor=value,
        extra_value_minor=extra,
        currency=voucher_type.currency.code,
        effective_at=start,
        expires_at=end,
        prefix=prefix,
        description=description,
        created_at=now,
        created_by=created_by,
    )
    lot.code_format(voucher_type)  # validates the prefix against the type's alphabet
    return lot


def _aware(what: str, moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValidationError(f"the {what} date needs a time zone (for example 2027-01-01T00:00Z)")
    return moment


def _lot_values(
    voucher_type: VoucherType, value_minor: int | None, extra_value_minor: int | None
) -> tuple[int, int]:
    if voucher_type.value_option is ValueOption.FIXED:
        if value_minor is not None and value_minor != voucher_type.value_minor:
            raise ValidationError(
                f"type {voucher_type.alternative_code} has a fixed value; a lot cannot change it"
            )
        if extra_value_minor is not None and extra_value_minor != voucher_type.extra_value_minor:
            raise ValidationError(
                f"type {voucher_type.alternative_code} has a fixed extra value; "
                "a lot cannot change it"
            )
        return voucher_type.value_minor or 0, voucher_type.extra_value_minor
    if value_minor is None or value_minor <= 0:
        raise ValidationError(
            f"type {voucher_type.alternative_code} has a variable value: give the lot a value"
        )
    extra = extra_value_minor or 0
    if extra < 0:
        raise ValidationError("the extra value cannot be negative")
    return value_minor, extra


def _require_id(voucher_type: VoucherType) -> int:
    if voucher_type.id is None:
        raise ValidationError("the voucher type has not been saved")
    return voucher_type.id
