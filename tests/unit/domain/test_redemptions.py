"""Redemption in the domain: what each kind credits, half-even bonus rounding, and the rules.

Amounts come from the seeds' own examples (DESIGN.md §6): a 10% bonus is a multiplier of
1.1, "+50 on a top-up of 100 or more" is an addition with a minimum activation, CRM
"All Services" is €30 with €5 extra value, "Premium services" is €50 for Gold and Silver.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vouchers.domain.customers import Customer, CustomerStatus
from vouchers.domain.ledger import Account, Posting, check_balanced, wallet_changes
from vouchers.domain.money import currency
from vouchers.domain.redemptions import (
    AmountLimits,
    Claim,
    Credit,
    RedemptionFacts,
    amount_within_limits,
    assess,
    check_voucher_state,
    compute_credit,
    currency_matches,
    customer_active,
    first_topup_only,
    kyc_verified,
    once_per_customer,
    product_supported,
    rules_for,
)
from vouchers.domain.voucher_types import (
    BonusRule,
    PerCustomer,
    RedemptionRules,
    VoucherKind,
    VoucherType,
)
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
    VoucherUnavailableError,
    VoucherUsedError,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
CUSTOMER_ID = 7


def a_type(code: str = "EUR", **fields: object) -> VoucherType:
    values: dict[str, object] = {
        "alternative_code": "T",
        "name": "a type",
        "currency": currency(code),
        "value_minor": 1000,
        "id": 1,
    }
    values.update(fields)
    return VoucherType(**values)  # type: ignore[arg-type]


def bonus_type(code: str = "EUR", **rule: object) -> VoucherType:
    return a_type(code, kind=VoucherKind.TOPUP_BONUS, value_minor=None, bonus=BonusRule(**rule))  # type: ignore[arg-type]


def a_voucher(code: str = "EUR", value: int = 1000, extra: int = 0, **fields: object) -> Voucher:
    values: dict[str, object] = {
        "number": 1,
        "lot_id": 1,
        "type_id": 1,
        "state": VoucherState.ACTIVATED,
        "value_minor": value,
        "extra_value_minor": extra,
        "currency": code,
        "effective_at": NOW - timedelta(days=1),
        "expires_at": NOW + timedelta(days=30),
        "code_tail": "ABCD",
        "created_at": NOW - timedelta(days=2),
    }
    values.update(fields)
    return Voucher(**values)  # type: ignore[arg-type]


def facts(
    voucher: Voucher | None = None,
    voucher_type: VoucherType | None = None,
    claim: Claim | None = None,
    **fields: object,
) -> RedemptionFacts:
    values: dict[str, object] = {
        "voucher": voucher or a_voucher(),
        "voucher_type": voucher_type or a_type(),
        "customer": Customer("C1", id=CUSTOMER_ID),
        "claim": claim or Claim(),
        "now": NOW,
        "limits": AmountLimits(),
    }
    values.update(fields)
    return RedemptionFacts(**values)  # type: ignore[arg-type]


def total(postings: list[Posting]) -> int:
    return sum(p.amount_minor for p in postings)


# -- what each kind credits ------------------------------------------------------------


def test_stored_value_credits_the_value_to_paid_and_the_extra_value_to_bonus() -> None:
    all_services = a_type(value_minor=3000, extra_value_minor=500)
    credit = compute_credit(a_voucher(value=3000, extra=500), all_services, Claim())
    assert credit == Credit("EUR", value_minor=3000, topup_minor=0, bonus_minor=500)
    assert (credit.paid_minor, credit.bonus_minor, credit.payment_minor) == (3000, 500, 0)
    assert credit.deposit_minor == 3000


def test_a_refill_coupon_of_ten_credits_ten_to_paid_and_nothing_to_bonus() -> None:
    credit = compute_credit(a_voucher(value=1000), a_type(), Claim())
    assert (credit.paid_minor, credit.bonus_minor) == (1000, 0)
    assert wallet_changes(credit.postings(CUSTOMER_ID)) == {(CUSTOMER_ID, "EUR"): (1000, 0)}


def test_a_stored_value_voucher_accepts_its_own_value_as_the_amount() -> None:
    credit = compute_credit(a_voucher(value=1000), a_type(), Claim(topup_minor=1000))
    assert (credit.value_minor, credit.topup_minor, credit.paid_minor) == (1000, 0, 1000)


def test_a_stored_value_voucher_refuses_any_other_amount_naming_its_value() -> None:
    with pytest.raises(ValidationError, match=r"exactly 10\.00 EUR"):
        compute_credit(a_voucher(value=1000), a_type(), Claim(topup_minor=2000))


def test_free_credit_puts_the_addition_on_the_bonus_balance_without_a_top_up() -> None:
    free = bonus_type(addition_minor=500)
    credit = compute_credit(a_voucher(value=0), free, Claim())
    assert credit == Credit("EUR", value_minor=0, topup_minor=0, bonus_minor=500)
    assert (credit.paid_minor, credit.deposit_minor) == (0, 0)
    assert credit.postings(CUSTOMER_ID) == [
        Posting(Account.BONUS_EXPENSE, -500, "EUR"),
        Posting(Account.WALLET_BONUS, 500, "EUR", CUSTOMER_ID),
    ]


def test_a_ten_percent_multiplier_credits_the_top_up_to_paid_and_a_tenth_to_bonus() -> None:
    ten_percent = bonus_type(multiplier=Decimal("1.1"))
    credit = compute_credit(a_voucher(value=0), ten_percent, Claim(topup_minor=10000))
    assert (credit.topup_minor, credit.paid_minor, credit.bonus_minor) == (10000, 10000, 1000)
    assert credit.postings(CUSTOMER_ID) == [
        Posting(Account.EXTERNAL_PAYMENTS, -10000, "EUR"),
        Posting(Account.WALLET_PAID, 10000, "EUR", CUSTOMER_ID),
        Posting(Account.BONUS_EXPENSE, -1000, "EUR"),
        Posting(Account.WALLET_BONUS, 1000, "EUR", CUSTOMER_ID),
    ]


def test_a_doubling_multiplier_needs_its_minimum_activation() -> None:
    double = bonus_type(multiplier=Decimal(2), minimum_activation_minor=5000)
    credit = compute_credit(a_voucher(value=0), double, Claim(topup_minor=5000))
    assert (credit.paid_minor, credit.bonus_minor) == (5000, 5000)
    with pytest.raises(MinimumActivationError, match=r"at least 50\.00 EUR"):
        compute_credit(a_voucher(value=0), double, Claim(topup_minor=4999))


def test_plus_fifty_on_a_top_up_of_a_hundred_or_more() -> None:
    plus_fifty = bonus_type(addition_minor=5000, minimum_activation_minor=10000)
    credit = compute_credit(a_voucher(value=0), plus_fifty, Claim(topup_minor=10000))
    assert (credit.paid_minor, credit.bonus_minor) == (10000, 5000)
    bigger = compute_credit(a_voucher(value=0), plus_fifty, Claim(topup_minor=25000))
    assert (bigger.paid_minor, bigger.bonus_minor) == (25000, 5000)


@pytest.mark.parametrize("topup", [None, 0, 9999])
def test_plus_fifty_refuses_a_top_up_under_a_hundred(topup: int | None) -> None:
    plus_fifty = bonus_type(addition_minor=5000, minimum_activation_minor=10000)
    with pytest.raises(MinimumActivationError, match=r"100\.00 EUR"):
        compute_credit(a_voucher(value=0), plus_fifty, Claim(topup_minor=topup))


def test_multiplier_and_addition_on_one_type_add_up() -> None:
    both = bonus_type(multiplier=Decimal(2), addition_minor=500, minimum_activation_minor=5000)
    credit = compute_credit(a_voucher(value=0), both, Claim(topup_minor=5000))
    assert (credit.paid_minor, credit.bonus_minor) == (5000, 5500)


def test_a_bonus_voucher_with_its_own_value_and_extra_value_credits_them_too() -> None:
    rich = bonus_type(multiplier=Decimal("1.1"), addition_minor=100)
    credit = compute_credit(a_voucher(value=2000, extra=300), rich, Claim(topup_minor=10000))
    assert credit.value_minor == 2000
    assert credit.paid_minor == 12000
    assert credit.bonus_minor == 300 + 100 + 1000
    assert credit.deposit_minor == 12000


def test_against_a_purchase_the_value_pays_toward_the_product_not_the_wallet() -> None:
    premium = a_type(value_minor=5000, products=("GOLD", "SILVER"))
    claim = Claim(product="GOLD", purchase_reference="PO-1")
    credit = compute_credit(a_voucher(value=5000), premium, claim)
    assert credit.toward_purchase
    assert (credit.payment_minor, credit.paid_minor, credit.bonus_minor) == (5000, 0, 0)
    assert credit.postings(CUSTOMER_ID) == [
        Posting(Account.VOUCHER_FLOAT, -5000, "EUR"),
        Posting(Account.PURCHASE_RECEIVABLES, 5000, "EUR"),
    ]
    assert wallet_changes(credit.postings(CUSTOMER_ID)) == {}


def test_extra_value_still_goes_to_bonus_when_paying_toward_a_purchase() -> None:
    premium = a_type(value_minor=5000, extra_value_minor=500, products=("GOLD",))
    claim = Claim(product="GOLD", purchase_reference="PO-1")
    credit = compute_credit(a_voucher(value=5000, extra=500), premium, claim)
    assert (credit.payment_minor, credit.paid_minor, credit.bonus_minor) == (5000, 0, 500)


def test_access_vouchers_are_not_redeemed_for_credit() -> None:
    access = a_type(kind=VoucherKind.ACCESS, value_minor=None)
    with pytest.raises(RedemptionRefusedError, match="internet access"):
        compute_credit(a_voucher(value=0), access, Claim())


# -- half-even rounding to the minor unit -------------------------------------------------


@pytest.mark.parametrize(
    ("code", "topup", "bonus"),
    [
        ("EUR", 1005, 100),  # 10.05 × 0.1 = 1.005 → 1.00 (tie to even)
        ("EUR", 1015, 102),  # 10.15 × 0.1 = 1.015 → 1.02 (tie to even)
        ("EUR", 1025, 102),  # 1.025 → 1.02
        ("EUR", 1006, 101),  # 1.006 → 1.01 (not a tie: nearest)
        ("EUR", 25, 2),  # 0.025 → 0.02
        ("EUR", 1, 0),  # 0.001 → 0.00
        ("JPY", 1005, 100),  # ¥1005 × 0.1 = ¥100.5 → ¥100
        ("JPY", 1015, 102),  # ¥101.5 → ¥102
        ("JPY", 1000, 100),
        ("KWD", 10005, 1000),  # 10.005 KWD × 0.1 = 1.0005 → 1.000
        ("KWD", 10015, 1002),  # 1.0015 → 1.002
        ("KWD", 10000, 1000),  # exponent 3: 10.000 KWD → 1.000 KWD
    ],
)
def test_a_multiplier_bonus_is_rounded_half_even_to_the_currency_minor_unit(
    code: str, topup: int, bonus: int
) -> None:
    ten_percent = bonus_type(code, multiplier=Decimal("1.1"))
    credit = compute_credit(a_voucher(code, value=0), ten_percent, Claim(topup_minor=topup))
    assert credit.currency == code
    assert credit.bonus_minor == bonus
    assert credit.paid_minor == topup


def test_an_addition_is_added_after_rounding_the_multiplier_bonus() -> None:
    both = bonus_type(multiplier=Decimal("1.1"), addition_minor=1)
    credit = compute_credit(a_voucher(value=0), both, Claim(topup_minor=1005))
    assert credit.bonus_minor == 101  # 1.00 rounded, then + 0.01


# -- properties ---------------------------------------------------------------------------

amounts = st.integers(min_value=0, max_value=10**12)


@given(
    value=amounts,
    topup=amounts,
    bonus=amounts,
    toward_purchase=st.booleans(),
    code=st.sampled_from(["EUR", "JPY", "KWD"]),
)
def test_the_postings_of_any_credit_sum_to_zero_and_match_its_amounts(
    value: int, topup: int, bonus: int, toward_purchase: bool, code: str
) -> None:
    credit = Credit(code, value, topup, bonus, toward_purchase)
    postings = credit.postings(CUSTOMER_ID)
    assert total(postings) == 0
    check_balanced(postings)
    assert all(p.amount_minor != 0 for p in postings)
    _, gained_bonus = wallet_changes(postings).get((CUSTOMER_ID, code), (0, 0))
    assert gained_bonus == credit.bonus_minor
    receivable = sum(p.amount_minor for p in postings if p.account is Account.PURCHASE_RECEIVABLES)
    assert receivable == credit.payment_minor


@given(value=amounts, topup=amounts, bonus=amounts, code=st.sampled_from(["EUR", "JPY"]))
def test_a_wallet_credit_gains_exactly_its_paid_and_bonus_amounts(
    value: int, topup: int, bonus: int, code: str
) -> None:
    credit = Credit(code, value, topup, bonus)
    gained = wallet_changes(credit.postings(CUSTOMER_ID)).get((CUSTOMER_ID, code), (0, 0))
    assert gained == (credit.paid_minor, credit.bonus_minor)


def test_a_top_up_that_comes_with_a_purchase_payment_is_reported_as_paid() -> None:
    ten_percent = bonus_type(multiplier=Decimal("1.1"))
    claim = Claim(topup_minor=10000, product="GOLD", purchase_reference="PO-1")
    credit = compute_credit(a_voucher(value=0), ten_percent, claim)
    gained = wallet_changes(credit.postings(CUSTOMER_ID))[(CUSTOMER_ID, "EUR")]
    assert gained == (10000, 1000)
    assert (credit.paid_minor, credit.bonus_minor) == gained


@given(
    code=st.sampled_from(["EUR", "JPY", "KWD", "USD"]),
    value=st.integers(min_value=0, max_value=10**9),
    extra=st.integers(min_value=0, max_value=10**9),
    topup=st.integers(min_value=0, max_value=10**12),
    multiplier=st.decimals(min_value=1, max_value=1000, places=4),
    addition=st.integers(min_value=0, max_value=10**9),
)
def test_a_bonus_is_never_negative_and_its_credit_always_balances(
    code: str, value: int, extra: int, topup: int, multiplier: Decimal, addition: int
) -> None:
    voucher_type = bonus_type(code, multiplier=multiplier, addition_minor=addition)
    credit = compute_credit(a_voucher(code, value, extra), voucher_type, Claim(topup_minor=topup))
    assert credit.bonus_minor >= extra + addition >= 0
    assert credit.paid_minor == value + topup
    assert total(credit.postings(CUSTOMER_ID)) == 0


# -- the voucher's state -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "error"),
    [
        (VoucherState.USED, VoucherUsedError),
        (VoucherState.CANCELLED, VoucherCancelledError),
        (VoucherState.EXPIRED, VoucherExpiredError),
        (VoucherState.DRAFT, VoucherNotActiveError),
        (VoucherState.ACCEPTED, VoucherNotActiveError),
        (VoucherState.REJECTED, VoucherNotActiveError),
        (VoucherState.PURGED, VoucherNotActiveError),
    ],
)
def test_only_an_activated_voucher_may_be_redeemed(
    state: VoucherState, error: type[VoucherUnavailableError]
) -> None:
    with pytest.raises(error):
        check_voucher_state(a_voucher(state=state), NOW)


def test_an_activated_voucher_within_its_dates_passes() -> None:
    check_voucher_state(a_voucher(), NOW)
    check_voucher_state(a_voucher(effective_at=NOW), NOW)  # effective ≤ now


def test_an_activated_voucher_is_expired_from_its_expiration_instant() -> None:
    check_voucher_state(a_voucher(expires_at=NOW + timedelta(microseconds=1)), NOW)
    with pytest.raises(VoucherExpiredError, match="expired at 2026-11-27 12:00"):
        check_voucher_state(a_voucher(expires_at=NOW), NOW)  # now < expiration, strictly


def test_a_voucher_before_its_effective_date_is_not_yet_effective() -> None:
    later = NOW + timedelta(hours=1)
    with pytest.raises(VoucherNotYetEffectiveError, match="2026-11-27 13:00"):
        check_voucher_state(a_voucher(effective_at=later), NOW)


def test_customers_see_one_message_for_every_unavailable_voucher() -> None:
    messages = set()
    for state in (VoucherState.USED, VoucherState.CANCELLED, VoucherState.EXPIRED):
        with pytest.raises(VoucherUnavailableError) as caught:
            check_voucher_state(a_voucher(state=state), NOW)
        messages.add(caught.value.customer_message)
    assert messages == {VoucherUnavailableError.customer_message}


# -- the claim ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"topup_minor": -1},
        {"product": ""},
        {"product": "P" * 101},
        {"purchase_reference": ""},
        {"payment_reference": "R" * 101},
    ],
)
def test_a_claim_refuses_negative_amounts_and_empty_or_overlong_references(
    fields: dict[str, object],
) -> None:
    with pytest.raises(ValidationError):
        Claim(**fields)  # type: ignore[arg-type]


def test_a_claim_accepts_references_up_to_a_hundred_characters() -> None:
    claim = Claim(topup_minor=0, product="P" * 100, purchase_reference="R")
    assert claim.product == "P" * 100


# -- which rules a type has ---------------------------------------------------------------


def test_every_type_checks_customer_currency_product_and_amount() -> None:
    assert repr(rules_for(a_type())) == (
        "(customer_active(), currency_matches(), product_supported(), amount_within_limits())"
    )


@pytest.mark.parametrize(
    ("rules", "extra"),
    [
        (RedemptionRules(kyc_required=True), "kyc_verified()"),
        (
            RedemptionRules(per_customer=PerCustomer.ONCE_PER_TYPE),
            "once_per_customer('once_per_type')",
        ),
        (
            RedemptionRules(per_customer=PerCustomer.ONCE_PER_LOT),
            "once_per_customer('once_per_lot')",
        ),
        (RedemptionRules(first_topup_only=True), "first_topup_only()"),
    ],
)
def test_a_type_adds_the_rules_it_asks_for(rules: RedemptionRules, extra: str) -> None:
    found = [repr(rule) for rule in rules_for(a_type(rules=rules))]
    assert found[-1] == extra
    assert len(found) == 5


def test_all_rules_together_are_checked_in_a_documented_order() -> None:
    rules = RedemptionRules(
        per_customer=PerCustomer.ONCE_PER_LOT, first_topup_only=True, kyc_required=True
    )
    assert [repr(rule) for rule in rules_for(a_type(rules=rules))] == [
        "customer_active()",
        "currency_matches()",
        "product_supported()",
        "amount_within_limits()",
        "kyc_verified()",
        "once_per_customer('once_per_lot')",
        "first_topup_only()",
    ]


def test_rules_are_frozen_and_equal_by_value() -> None:
    assert once_per_customer(PerCustomer.ONCE_PER_TYPE) == once_per_customer(
        PerCustomer.ONCE_PER_TYPE
    )
    assert once_per_customer(PerCustomer.ONCE_PER_TYPE) != once_per_customer(
        PerCustomer.ONCE_PER_LOT
    )
    rule = once_per_customer(PerCustomer.ONCE_PER_TYPE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.scope = PerCustomer.ONCE_PER_LOT  # type: ignore[attr-defined]


# -- each rule, accepted and refused ----------------------------------------------------


def test_customer_active_refuses_a_blocked_customer() -> None:
    customer_active()(facts())
    blocked = Customer("C1", status=CustomerStatus.BLOCKED, id=CUSTOMER_ID)
    with pytest.raises(CustomerBlockedError, match="C1"):
        customer_active()(facts(customer=blocked))


@pytest.mark.parametrize("asked", [None, "EUR", "eur"])
def test_currency_matches_accepts_no_currency_or_the_vouchers(asked: str | None) -> None:
    currency_matches()(facts(claim=Claim(currency=asked)))


def test_currency_matches_refuses_another_currency_naming_both() -> None:
    with pytest.raises(CurrencyMismatchError, match="EUR, not USD"):
        currency_matches()(facts(claim=Claim(currency="usd")))


PREMIUM = a_type(value_minor=5000, products=("GOLD", "SILVER"))


@pytest.mark.parametrize("product", ["GOLD", "Silver", "gold"])
def test_a_product_restricted_type_pays_for_its_products_in_any_case(product: str) -> None:
    claim = Claim(product=product, purchase_reference="PO-1")
    product_supported()(facts(voucher_type=PREMIUM, claim=claim))


def test_a_product_restricted_type_refuses_any_other_product() -> None:
    claim = Claim(product="Bronze", purchase_reference="PO-1")
    with pytest.raises(ProductNotSupportedError, match="'Bronze'"):
        product_supported()(facts(voucher_type=PREMIUM, claim=claim))


def test_a_product_restricted_type_needs_a_product_named() -> None:
    with pytest.raises(ProductNotSupportedError, match="GOLD, SILVER"):
        product_supported()(facts(voucher_type=PREMIUM, claim=Claim()))


def test_product_types_are_supported_like_products() -> None:
    by_kind = a_type(product_types=("SUBSCRIPTION",))
    claim = Claim(product="subscription", purchase_reference="PO-2")
    product_supported()(facts(voucher_type=by_kind, claim=claim))
    with pytest.raises(ProductNotSupportedError):
        product_supported()(
            facts(voucher_type=by_kind, claim=Claim(product="X", purchase_reference="PO"))
        )


def test_a_payment_toward_a_product_needs_a_purchase_reference() -> None:
    with pytest.raises(ValidationError, match="purchase reference"):
        product_supported()(facts(voucher_type=PREMIUM, claim=Claim(product="GOLD")))


def test_an_unrestricted_type_needs_no_product_but_may_pay_for_any() -> None:
    product_supported()(facts())
    product_supported()(facts(claim=Claim(product="ANYTHING", purchase_reference="PO-3")))


@pytest.mark.parametrize(
    ("limits", "ok"),
    [
        (AmountLimits(), True),
        (AmountLimits(minimum_minor=1000), True),  # the minimum itself is allowed
        (AmountLimits(maximum_minor=1000), True),  # and so is the maximum
        (AmountLimits(minimum_minor=1001), False),
        (AmountLimits(maximum_minor=999), False),
        (AmountLimits(minimum_minor=500, maximum_minor=2000), True),
    ],
)
def test_the_deposit_must_lie_within_the_settings_limits(limits: AmountLimits, ok: bool) -> None:
    rule = amount_within_limits()
    if ok:
        rule(facts(limits=limits))
    else:
        with pytest.raises(AmountOutOfRangeError, match=r"10\.00 EUR is (below|above)"):
            rule(facts(limits=limits))


def test_the_limits_apply_to_the_top_up_of_a_bonus_voucher() -> None:
    ten_percent = bonus_type(multiplier=Decimal("1.1"))
    limits = AmountLimits(maximum_minor=5000)
    amount_within_limits()(
        facts(a_voucher(value=0), ten_percent, Claim(topup_minor=5000), limits=limits)
    )
    with pytest.raises(AmountOutOfRangeError, match=r"50\.01 EUR is above the maximum of 50\.00"):
        amount_within_limits()(
            facts(a_voucher(value=0), ten_percent, Claim(topup_minor=5001), limits=limits)
        )


def test_free_credit_deposits_nothing_so_a_minimum_does_not_apply() -> None:
    free = bonus_type(addition_minor=500)
    amount_within_limits()(facts(a_voucher(value=0), free, limits=AmountLimits(minimum_minor=1)))


@pytest.mark.parametrize(
    ("scope", "what"), [(PerCustomer.ONCE_PER_TYPE, "type"), (PerCustomer.ONCE_PER_LOT, "lot")]
)
def test_once_per_customer_refuses_a_second_redemption(scope: PerCustomer, what: str) -> None:
    rule = once_per_customer(scope)
    rule(facts(earlier_redemptions=0))
    with pytest.raises(AlreadyRedeemedError, match=f"of this {what}"):
        rule(facts(earlier_redemptions=1))


def test_first_topup_only_refuses_a_customer_who_topped_up_before() -> None:
    first_topup_only()(facts(has_topped_up=False))
    with pytest.raises(FirstTopUpOnlyError):
        first_topup_only()(facts(has_topped_up=True))


def test_kyc_verified_refuses_an_unverified_customer() -> None:
    kyc_verified()(facts(customer=Customer("C1", kyc_verified=True, id=CUSTOMER_ID)))
    with pytest.raises(KycRequiredError):
        kyc_verified()(facts())


# -- assess: state, then every rule, then the credit ----------------------------------------


def test_assess_returns_the_credit_when_everything_holds() -> None:
    strict = a_type(
        value_minor=3000,
        extra_value_minor=500,
        rules=RedemptionRules(
            per_customer=PerCustomer.ONCE_PER_TYPE, first_topup_only=True, kyc_required=True
        ),
    )
    verified = Customer("C1", kyc_verified=True, id=CUSTOMER_ID)
    credit = assess(facts(a_voucher(value=3000, extra=500), strict, customer=verified))
    assert (credit.paid_minor, credit.bonus_minor) == (3000, 500)


def test_assess_checks_the_vouchers_state_before_any_rule() -> None:
    blocked = Customer("C1", status=CustomerStatus.BLOCKED, id=CUSTOMER_ID)
    with pytest.raises(VoucherUsedError):
        assess(facts(a_voucher(state=VoucherState.USED), customer=blocked))


def test_assess_ignores_rules_the_type_does_not_ask_for() -> None:
    credit = assess(facts(earlier_redemptions=3, has_topped_up=True))
    assert credit.paid_minor == 1000


@pytest.mark.parametrize(
    ("rules", "fields", "error"),
    [
        (RedemptionRules(kyc_required=True), {}, KycRequiredError),
        (
            RedemptionRules(per_customer=PerCustomer.ONCE_PER_LOT),
            {"earlier_redemptions": 1},
            AlreadyRedeemedError,
        ),
        (RedemptionRules(first_topup_only=True), {"has_topped_up": True}, FirstTopUpOnlyError),
        (RedemptionRules(), {"claim": Claim(currency="GBP")}, CurrencyMismatchError),
        (RedemptionRules(), {"limits": AmountLimits(maximum_minor=1)}, AmountOutOfRangeError),
    ],
)
def test_assess_refuses_with_the_named_error_of_the_rule_that_fails(
    rules: RedemptionRules, fields: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        assess(facts(voucher_type=a_type(rules=rules), **fields))
