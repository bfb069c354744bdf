"""Redemption: what a voucher credits, and the rules that must hold before anything moves.

One engine serves every kind (DESIGN.md §6). For a voucher of value V and extra value E,
and an optional paid top-up P that comes with it:

* stored value: V → paid balance, E → bonus balance (P is not taken);
* top-up bonus (free, multiplier and additional credit, or both): V + P → paid, and
  E + P × (multiplier − 1) + addition → bonus, when P ≥ the minimum activation. The
  multiplier bonus is rounded half-even to the currency's minor unit (10.05 × 0.1 → 1.00,
  10.15 × 0.1 → 1.02); a top-up below the minimum is refused rather than silently
  earning no bonus, so the customer keeps the voucher;
* against a purchase (a product is named): V is a payment toward that product and the
  purchase reference, settling the purchase receivable; E still goes to the bonus balance.
  A type that lists products or product types pays for those only, and needs a product.

Rules are small frozen callables (:func:`rules_for` builds a type's list); each raises a
named error, and the first that fails decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from vouchers.domain.customers import Customer, CustomerStatus
from vouchers.domain.ledger import Account, Posting
from vouchers.domain.money import Money, currency
from vouchers.domain.voucher_types import PerCustomer, VoucherKind, VoucherType
from vouchers.domain.vouchers import Voucher, VoucherState
from vouchers.errors import (
    AlreadyRedeemedError,
    AmountOutOfRangeError,
    CurrencyMismatchError,
    CustomerBlockedError,
    FirstTopUpOnlyError,
    KycRequiredError,
    MinimumActivationError,
    ProductNotSupportedError,
    RedemptionRefusedError,
    ValidationError,
    VoucherCancelledError,
    VoucherExpiredError,
    VoucherNotActiveError,
    VoucherNotYetEffectiveError,
    VoucherUsedError,
)

MAX_REFERENCE = 100


class Channel(StrEnum):
    """Where a redemption came from, kept for reporting."""

    API = "api"
    PORTAL = "portal"
    WEB_PHONE = "web_phone"
    CONSOLE = "console"
    CLI = "cli"
    RADIUS = "radius"


class RedemptionStatus(StrEnum):
    COMPLETED = "completed"
    REVERSED = "reversed"


@dataclass(frozen=True)
class Claim:
    """What the redeeming side asks for besides the code (all optional)."""

    topup_minor: int | None = None
    currency: str | None = None
    product: str | None = None
    purchase_reference: str | None = None
    payment_reference: str | None = None

    def __post_init__(self) -> None:
        if self.topup_minor is not None and self.topup_minor < 0:
            raise ValidationError("a top-up amount cannot be negative")
        for name in ("product", "purchase_reference", "payment_reference"):
            value = getattr(self, name)
            if value is not None and not 0 < len(value) <= MAX_REFERENCE:
                raise ValidationError(f"{name.replace('_', ' ')} must be 1-{MAX_REFERENCE} chars")


@dataclass(frozen=True)
class Credit:
    """What a redemption moves, in the voucher's currency (minor units)."""

    currency: str
    value_minor: int  # drawn from the voucher float
    topup_minor: int  # paid in from outside with the redemption
    bonus_minor: int  # given away: extra value and top-up bonus
    toward_purchase: bool = False

    @property
    def paid_minor(self) -> int:
        """What the paid balance gains."""
        return self.topup_minor + (0 if self.toward_purchase else self.value_minor)

    @property
    def payment_minor(self) -> int:
        """What is paid toward a purchase."""
        return self.value_minor if self.toward_purchase else 0

    @property
    def deposit_minor(self) -> int:
        """The amount the settings' minimum and maximum apply to."""
        return self.value_minor + self.topup_minor

    def postings(self, customer_id: int) -> list[Posting]:
        """The balanced postings of this credit for one customer."""
        c, out = self.currency, []
        if self.value_minor:
            out.append(Posting(Account.VOUCHER_FLOAT, -self.value_minor, c))
            if self.toward_purchase:
                out.append(Posting(Account.PURCHASE_RECEIVABLES, self.value_minor, c))
            else:
                out.append(Posting(Account.WALLET_PAID, self.value_minor, c, customer_id))
        if self.topup_minor:
            out.append(Posting(Account.EXTERNAL_PAYMENTS, -self.topup_minor, c))
            out.append(Posting(Account.WALLET_PAID, self.topup_minor, c, customer_id))
        if self.bonus_minor:
            out.append(Posting(Account.BONUS_EXPENSE, -self.bonus_minor, c))
            out.append(Posting(Account.WALLET_BONUS, self.bonus_minor, c, customer_id))
        return out


def compute_credit(voucher: Voucher, voucher_type: VoucherType, claim: Claim) -> Credit:
    """What redeeming ``voucher`` with ``claim`` credits; raises a RedemptionRefusedError."""
    code = voucher.currency
    if voucher_type.kind is VoucherKind.ACCESS:
        raise RedemptionRefusedError("access vouchers are redeemed for internet access")
    toward_purchase = claim.product is not None
    if voucher_type.kind is VoucherKind.STORED_VALUE:
        if claim.topup_minor is not None and claim.topup_minor != voucher.value_minor:
            raise ValidationError(
                "a stored-value voucher credits its own value; leave out the amount "
                f"or give exactly {Money(voucher.value_minor, currency(code)).format()}"
            )
        return Credit(code, voucher.value_minor, 0, voucher.extra_value_minor, toward_purchase)
    rule = voucher_type.bonus
    topup = claim.topup_minor or 0
    if topup < rule.minimum_activation_minor:
        minimum = Money(rule.minimum_activation_minor, currency(code)).format()
        raise MinimumActivationError(f"this voucher needs a top-up of at least {minimum}")
    bonus = (
        voucher.extra_value_minor
        + rule.addition_minor
        + _multiplier_bonus(topup, rule.multiplier, code)
    )
    return Credit(code, voucher.value_minor, topup, bonus, toward_purchase)


def _multiplier_bonus(topup_minor: int, multiplier: Decimal, code: str) -> int:
    return Money(topup_minor, currency(code)).scale(multiplier - 1).minor


@dataclass(frozen=True)
class Redemption:
    """One use of a voucher, as recorded."""

    voucher_number: int
    customer_id: int
    type_id: int
    lot_id: int
    channel: Channel
    credit: Credit
    payment_type: str
    redeemed_at: datetime
    redeemed_by: str
    product: str | None = None
    purchase_reference: str | None = None
    payment_reference: str | None = None
    client_address: str | None = None
    caller: str | None = None
    idempotency_key: str | None = None
    status: RedemptionStatus = RedemptionStatus.COMPLETED
    reversed_at: datetime | None = None
    reversed_by: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class AmountLimits:
    """The settings' minimum and maximum amounts for one currency (None: no limit)."""

    minimum_minor: int | None = None
    maximum_minor: int | None = None


@dataclass(frozen=True)
class RedemptionFacts:
    """Everything the rules look at, gathered before anything moves."""

    voucher: Voucher
    voucher_type: VoucherType
    customer: Customer
    claim: Claim
    now: datetime
    limits: AmountLimits
    earlier_redemptions: int = 0  # by this customer, of this type or lot (as the type says)
    has_topped_up: bool = False  # any completed redemption by this customer before


class Rule(Protocol):
    def __call__(self, facts: RedemptionFacts) -> None:
        """Raise a named error if the redemption may not go ahead."""


def check_voucher_state(voucher: Voucher, now: datetime) -> None:
    """Refuse a voucher that cannot be redeemed now, naming why (staff see the reason)."""
    state = voucher.state_at(now)
    number = voucher.number
    if state is VoucherState.USED:
        raise VoucherUsedError(f"voucher {number} was already used")
    if state is VoucherState.CANCELLED:
        raise VoucherCancelledError(f"voucher {number} was cancelled")
    if state is VoucherState.EXPIRED:
        raise VoucherExpiredError(
            f"voucher {number} expired at {voucher.expires_at:%Y-%m-%d %H:%M}"
        )
    if state is not VoucherState.ACTIVATED:
        raise VoucherNotActiveError(f"voucher {number} is {state}, not activated")
    if now < voucher.effective_at:
        raise VoucherNotYetEffectiveError(
            f"voucher {number} becomes effective at {voucher.effective_at:%Y-%m-%d %H:%M}"
        )


@dataclass(frozen=True)
class _CustomerActive:
    def __call__(self, facts: RedemptionFacts) -> None:
        if facts.customer.status is not CustomerStatus.ACTIVE:
            raise CustomerBlockedError(f"customer {facts.customer.external_ref} is blocked")

    def __repr__(self) -> str:
        return "customer_active()"


@dataclass(frozen=True)
class _CurrencyMatches:
    def __call__(self, facts: RedemptionFacts) -> None:
        asked = facts.claim.currency
        if asked is not None and currency(asked).code != facts.voucher.currency:
            raise CurrencyMismatchError(
                f"the voucher is in {facts.voucher.currency}, not {currency(asked).code}"
            )

    def __repr__(self) -> str:
        return "currency_matches()"


@dataclass(frozen=True)
class _ProductSupported:
    def __call__(self, facts: RedemptionFacts) -> None:
        voucher_type, product = facts.voucher_type, facts.claim.product
        if product is None:
            if voucher_type.restricts_products:
                supported = ", ".join((*voucher_type.products, *voucher_type.product_types))
                raise ProductNotSupportedError(
                    f"this voucher pays only for a purchase of {supported}; name the product"
                )
            return
        if voucher_type.restricts_products and product.upper() not in {
            p.upper() for p in (*voucher_type.products, *voucher_type.product_types)
        }:
            raise ProductNotSupportedError(f"this voucher cannot pay for {product!r}")
        if facts.claim.purchase_reference is None:
            raise ValidationError("a payment toward a product needs a purchase reference")

    def __repr__(self) -> str:
        return "product_supported()"


@dataclass(frozen=True)
class _AmountWithinLimits:
    def __call__(self, facts: RedemptionFacts) -> None:
        credit = compute_credit(facts.voucher, facts.voucher_type, facts.claim)
        amount, limits = credit.deposit_minor, facts.limits
        if amount == 0:
            return  # free credit: nothing is deposited
        unit = currency(facts.voucher.currency)
        if limits.minimum_minor is not None and amount < limits.minimum_minor:
            raise AmountOutOfRangeError(
                f"{Money(amount, unit).format()} is below the minimum of "
                f"{Money(limits.minimum_minor, unit).format()}"
            )
        if limits.maximum_minor is not None and amount > limits.maximum_minor:
            raise AmountOutOfRangeError(
                f"{Money(amount, unit).format()} is above the maximum of "
                f"{Money(limits.maximum_minor, unit).format()}"
            )

    def __repr__(self) -> str:
        return "amount_within_limits()"


@dataclass(frozen=True)
class _OncePerCustomer:
    scope: PerCustomer

    def __call__(self, facts: RedemptionFacts) -> None:
        if facts.earlier_redemptions:
            what = "type" if self.scope is PerCustomer.ONCE_PER_TYPE else "lot"
            raise AlreadyRedeemedError(
                f"customer {facts.customer.external_ref} already redeemed a voucher of this {what}"
            )

    def __repr__(self) -> str:
        return f"once_per_customer({self.scope.value!r})"


@dataclass(frozen=True)
class _FirstTopUpOnly:
    def __call__(self, facts: RedemptionFacts) -> None:
        if facts.has_topped_up:
            raise FirstTopUpOnlyError("this voucher is for a customer's first top-up only")

    def __repr__(self) -> str:
        return "first_topup_only()"


@dataclass(frozen=True)
class _KycVerified:
    def __call__(self, facts: RedemptionFacts) -> None:
        if not facts.customer.kyc_verified:
            raise KycRequiredError("this voucher needs a KYC-verified customer")

    def __repr__(self) -> str:
        return "kyc_verified()"


def customer_active() -> Rule:
    """Blocked customers may not redeem."""
    return _CustomerActive()


def currency_matches() -> Rule:
    """A currency named in the request must be the voucher's."""
    return _CurrencyMatches()


def product_supported() -> Rule:
    """A product named must be one the type pays for; restricted types need one."""
    return _ProductSupported()


def amount_within_limits() -> Rule:
    """The deposited amount lies within the settings' minimum and maximum."""
    return _AmountWithinLimits()


def once_per_customer(scope: PerCustomer) -> Rule:
    """One redemption per customer of the type, or of the lot."""
    return _OncePerCustomer(scope)


def first_topup_only() -> Rule:
    """Only a customer with no completed redemption yet."""
    return _FirstTopUpOnly()


def kyc_verified() -> Rule:
    """Only KYC-verified customers."""
    return _KycVerified()


def rules_for(voucher_type: VoucherType) -> tuple[Rule, ...]:
    """The rules a redemption of this type must pass, in the order they are checked."""
    rules: list[Rule] = [
        customer_active(),
        currency_matches(),
        product_supported(),
        amount_within_limits(),
    ]
    if voucher_type.rules.kyc_required:
        rules.append(kyc_verified())
    if voucher_type.rules.per_customer is not PerCustomer.UNLIMITED:
        rules.append(once_per_customer(voucher_type.rules.per_customer))
    if voucher_type.rules.first_topup_only:
        rules.append(first_topup_only())
    return tuple(rules)


def assess(facts: RedemptionFacts) -> Credit:
    """Check the voucher's state and every rule of its type; return what it would credit.

    The first check that fails raises its named error (VoucherUnavailableError for the
    voucher's state, RedemptionRefusedError or ValidationError for a rule).
    """
    check_voucher_state(facts.voucher, facts.now)
    for rule in rules_for(facts.voucher_type):
        rule(facts)
    return compute_credit(facts.voucher, facts.voucher_type, facts.claim)
