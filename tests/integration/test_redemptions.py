"""Redemption on both databases: every kind and rule with exact amounts, refusals that move
nothing, idempotency, dry runs, reversals, wallet debits, settings and anti-guessing.

Amounts are the seeds' own examples (DESIGN.md §6). A refusal is checked with
:func:`refused`, which compares every table a redemption writes before and after the call
and verifies the ledger, so "nothing moved" is proven rather than assumed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from support.factories import apply, clear_codes, generate_lot_with, history_rows
from support.redeeming import balance, customer, debit, issue, redeem, validate
from vouchers.adapters.db import schema
from vouchers.bootstrap import App
from vouchers.domain.codes import CROCKFORD, CodeFormat
from vouchers.domain.ledger import DebitOrder, EntryKind
from vouchers.domain.lifecycle import Process
from vouchers.domain.money import currency
from vouchers.domain.redemptions import RedemptionStatus
from vouchers.domain.voucher_types import BonusRule, PerCustomer, RedemptionRules, VoucherKind
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import (
    AlreadyRedeemedError,
    AmountOutOfRangeError,
    CurrencyMismatchError,
    CustomerBlockedError,
    CustomerNotFoundError,
    FirstTopUpOnlyError,
    IdempotencyKeyReusedError,
    InsufficientFundsError,
    KycRequiredError,
    MalformedCodeError,
    MinimumActivationError,
    ProductNotSupportedError,
    ReversalRefusedError,
    TooManyAttemptsError,
    ValidationError,
    VoucherCancelledError,
    VoucherExpiredError,
    VoucherNotActiveError,
    VoucherNotYetEffectiveError,
    VoucherUnavailableError,
    VoucherUnknownError,
    VoucherUsedError,
)
from vouchers.services import customers, ledger, redemptions, reversals, settings
from vouchers.services.processes import Selection

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
"""The fixed time of the ``app`` fixture's clock (tests/integration/conftest.py)."""

# -- helpers --------------------------------------------------------------------------------


class MovingClock:
    """A clock tests can move forward; set as ``app.clock`` (services read it per call)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(app: App) -> MovingClock:
    assert app.clock() == NOW
    moving = MovingClock(NOW)
    app.clock = moving
    return moving


WRITTEN_BY_REDEMPTION = (
    schema.vouchers,
    schema.redemptions,
    schema.journal_entries,
    schema.postings,
    schema.wallets,
    schema.customers,
    schema.idempotency_keys,
    schema.voucher_history,
    schema.events,
)


def snapshot(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table a redemption, reversal or debit writes."""
    with app.engine.connect() as connection:
        return {
            table.name: sorted(
                (tuple(row) for row in connection.execute(sa.select(table))), key=repr
            )
            for table in WRITTEN_BY_REDEMPTION
        }


def refused(app: App, error: type[Exception], call: Callable[[], object]) -> Exception:
    """Run ``call``, expect ``error``, and prove that nothing moved; return the error."""
    before = snapshot(app)
    with pytest.raises(error) as caught:
        call()
    assert snapshot(app) == before
    assert ledger.verify_ledger(uow=app.uow()).ok
    return caught.value


def numbers(app: App) -> dict[str, int]:
    """Voucher numbers by code in clear."""
    return {code: number for number, code in clear_codes(app).items()}


def state_of(app: App, code: str) -> VoucherState:
    number = numbers(app)[code]
    with app.uow() as uow:
        return uow.vouchers.get(number).state


def totals(app: App) -> dict[str, int]:
    """The ledger's balance of every system and wallet account in EUR."""
    found = ledger.verify_ledger(uow=app.uow())
    assert found.ok, found
    return {account: amount for (account, code), amount in found.totals.items() if code == "EUR"}


def events_of(app: App, event_type: str) -> list[dict[str, Any]]:
    with app.uow() as uow:
        return uow.events.recent(event_type=event_type)


def set_setting(app: App, key: str, value: str, actor: str = "ops") -> dict[str, Any]:
    return settings.set_setting(key, value, uow=app.uow(), clock=app.clock, actor=actor)


def reverse(app: App, redemption_id: int | None, reason: str = "customer complaint") -> Any:
    assert redemption_id is not None
    return reversals.reverse_redemption(
        redemption_id, reason=reason, uow=app.uow(), clock=app.clock, actor="finance"
    )


def typo_of(code: str) -> str:
    """``code`` with a different check character: well formed but for the check, a typo."""
    symbols = CROCKFORD.symbols
    return code[:-1] + symbols[(symbols.index(code[-1]) + 1) % len(symbols)]


def all_services(app: App, count: int = 1, **fields: Any) -> list[str]:
    """CRM "All Services": €30 with €5 extra value."""
    return issue(
        app, "CRM", count, name="All Services", value_minor=3000, extra_value_minor=500, **fields
    )


def refills(app: App, count: int = 1) -> list[str]:
    """Refill coupons of €10."""
    return issue(app, "REFILL", count, name="Refill", value_minor=1000)


def bonus_type(app: App, code: str, count: int, **rule: Any) -> list[str]:
    return issue(
        app,
        code,
        count,
        name=f"Bonus {code}",
        kind=VoucherKind.TOPUP_BONUS,
        value_minor=None,
        bonus=BonusRule(**rule),
    )


# -- every kind, with exact amounts ---------------------------------------------------------


def test_stored_value_credits_its_value_to_paid_and_its_extra_value_to_bonus(app: App) -> None:
    # Given CRM "All Services" (€30 + €5 extra) and two refill coupons of €10
    (crm,) = all_services(app)
    first, second = refills(app, 2)
    customer(app, "C1")
    customer(app, "C2")

    # When C1 redeems All Services, then 30 goes to paid and 5 to bonus
    result = redeem(app, crm)
    assert (result.value_minor, result.topup_minor) == (3000, 0)
    assert (result.paid_minor, result.bonus_minor, result.payment_minor) == (3000, 500, 0)
    assert (result.balance_paid_minor, result.balance_bonus_minor) == (3000, 500)
    assert result.events == ["voucher.redeemed"]
    assert balance(app) == (3000, 500)
    assert state_of(app, crm) is VoucherState.USED

    # When C2 redeems two refill coupons, then the balance goes from 0 to 20
    assert balance(app, "C2") == (0, 0)
    assert redeem(app, first, "C2").balance_paid_minor == 1000
    assert redeem(app, second, "C2", amount="10.00").balance_paid_minor == 2000
    assert balance(app, "C2") == (2000, 0)
    assert totals(app) == {
        "voucher_float": -5000,
        "wallet_paid": 5000,
        "bonus_expense": -500,
        "wallet_bonus": 500,
    }


def test_free_and_multiplier_credit_with_half_even_rounding(app: App) -> None:
    free = bonus_type(app, "FREE5", 1, addition_minor=500)
    ten_percent = bonus_type(app, "TENPC", 3, multiplier=Decimal("1.1"))
    yen = issue(
        app,
        "YEN",
        1,
        name="Yen bonus",
        currency=currency("JPY"),
        kind=VoucherKind.TOPUP_BONUS,
        value_minor=None,
        bonus=BonusRule(multiplier=Decimal("1.1")),
    )
    customer(app, "C1")

    # Free credit: the addition goes to bonus, with no top-up (minimum activation 0)
    result = redeem(app, free[0])
    assert (result.paid_minor, result.topup_minor, result.bonus_minor) == (0, 0, 500)
    assert balance(app) == (0, 500)

    # A 10% bonus (multiplier 1.1): the top-up to paid, a tenth of it to bonus
    hundred = redeem(app, ten_percent[0], amount="100.00")
    assert (hundred.topup_minor, hundred.paid_minor, hundred.bonus_minor) == (10000, 10000, 1000)
    assert redeem(app, ten_percent[1], amount="10.05").bonus_minor == 100  # 1.005 → 1.00
    assert redeem(app, ten_percent[2], amount="10.15").bonus_minor == 102  # 1.015 → 1.02
    assert balance(app) == (10000 + 1005 + 1015, 500 + 1000 + 100 + 102)

    # In yen, rounded to whole yen
    in_yen = redeem(app, yen[0], amount="1015")
    assert (in_yen.currency, in_yen.paid_minor, in_yen.bonus_minor) == ("JPY", 1015, 102)
    assert balance(app, currency="JPY") == (1015, 102)
    assert totals(app)["external_payments"] == -12020


def test_additional_credit_needs_its_minimum_activation(app: App) -> None:
    plus_fifty = bonus_type(app, "PLUS50", 1, addition_minor=5000, minimum_activation_minor=10000)
    (both,) = bonus_type(
        app, "DOUBLE", 1, multiplier=Decimal(2), addition_minor=500, minimum_activation_minor=5000
    )
    customer(app, "C1")

    # +50 for a top-up of 100 or more
    refused(app, MinimumActivationError, lambda: redeem(app, plus_fifty[0], amount="99.99"))
    refused(app, MinimumActivationError, lambda: redeem(app, plus_fifty[0]))
    assert state_of(app, plus_fifty[0]) is VoucherState.ACTIVATED
    result = redeem(app, plus_fifty[0], amount="100")
    assert (result.paid_minor, result.bonus_minor) == (10000, 5000)
    assert balance(app) == (10000, 5000)

    # ×2 and +5 on one type, from 50
    refused(app, MinimumActivationError, lambda: redeem(app, both, amount="49.99"))
    result = redeem(app, both, amount="50.00")
    assert (result.paid_minor, result.bonus_minor) == (5000, 5500)
    assert balance(app) == (15000, 10500)


def test_premium_services_pays_only_toward_a_gold_or_silver_purchase(app: App) -> None:
    # "Premium services": €50, only for the Gold and Silver products
    (code,) = issue(app, "PREM", 1, name="Premium services", products=("GOLD", "SILVER"))
    customer(app, "C1")
    refused(
        app,
        ProductNotSupportedError,
        lambda: redeem(app, code, product="Bronze", purchase_reference="PO-1"),
    )
    refused(app, ProductNotSupportedError, lambda: redeem(app, code))
    refused(app, ValidationError, lambda: redeem(app, code, product="SILVER"))  # no reference
    assert state_of(app, code) is VoucherState.ACTIVATED

    result = redeem(app, code, product="Gold", purchase_reference="PO-1")
    assert (result.payment_minor, result.paid_minor, result.bonus_minor) == (5000, 0, 0)
    assert (result.product, result.purchase_reference) == ("Gold", "PO-1")
    assert balance(app) == (0, 0)
    assert totals(app) == {"voucher_float": -5000, "purchase_receivables": 5000}
    (stored,) = redemptions.customer_redemptions("C1", uow=app.uow())
    assert stored.credit.toward_purchase
    assert (stored.product, stored.purchase_reference) == ("Gold", "PO-1")


def test_a_bonus_voucher_redeemed_with_a_purchase_reports_the_top_up_it_credits(
    app: App,
) -> None:
    (code,) = bonus_type(app, "TENPC", 1, multiplier=Decimal("1.1"))
    customer(app, "C1")
    result = redeem(app, code, amount="100", product="GOLD", purchase_reference="PO-1")
    assert balance(app) == (10000, 1000)
    assert (result.balance_paid_minor, result.balance_bonus_minor) == (10000, 1000)
    assert (result.paid_minor, result.bonus_minor) == (10000, 1000)


# -- the voucher's state and dates ----------------------------------------------------------


def test_used_cancelled_expired_and_unknown_codes_give_customers_one_message(
    app: App, clock: MovingClock
) -> None:
    used, cancelled, expiring = refills(app, 3)
    customer(app, "C1")
    redeem(app, used)
    apply(app, Process.CANCEL, Selection(number=numbers(app)[cancelled]))
    (unknown,) = CodeFormat().generate(1)
    caught = [
        refused(app, VoucherUsedError, lambda: redeem(app, used)),
        refused(app, VoucherCancelledError, lambda: redeem(app, cancelled)),
        refused(app, VoucherUnknownError, lambda: redeem(app, unknown)),
    ]
    clock.advance(days=365)  # the type's validity
    caught.append(refused(app, VoucherExpiredError, lambda: redeem(app, expiring)))
    assert all(isinstance(error, VoucherUnavailableError) for error in caught)
    assert {error.customer_message for error in caught} == {  # type: ignore[attr-defined]
        VoucherUnavailableError.customer_message
    }
    assert len({type(error) for error in caught}) == 4  # staff see the exact reason


def test_only_an_activated_voucher_between_its_dates_is_redeemed(
    app: App, clock: MovingClock
) -> None:
    effective, expires = NOW + timedelta(days=2), NOW + timedelta(days=3)
    later = issue(
        app,
        "LATER",
        2,
        name="Later",
        value_minor=1000,
        lot={"effective_at": effective, "expires_at": expires},
    )
    before = set(clear_codes(app).values())
    generate_lot_with(app, "LATER", 1)  # generated, never accepted nor activated
    (draft,) = set(clear_codes(app).values()) - before
    assert state_of(app, draft) is VoucherState.DRAFT
    customer(app, "C1")

    refused(app, VoucherNotActiveError, lambda: redeem(app, draft))
    refused(app, VoucherNotYetEffectiveError, lambda: redeem(app, later[0]))
    clock.now = effective  # effective ≤ now
    assert redeem(app, later[0]).paid_minor == 1000
    clock.now = expires  # now < expiration, strictly
    refused(app, VoucherExpiredError, lambda: redeem(app, later[1]))


# -- the rules ------------------------------------------------------------------------------


def test_currency_and_the_settings_minimum_and_maximum_amounts(app: App) -> None:
    (refill,) = refills(app)
    (crm,) = all_services(app)
    customer(app, "C1")
    refused(app, CurrencyMismatchError, lambda: redeem(app, refill, currency="USD"))

    set_setting(app, "minimum_amount.EUR", "20")
    set_setting(app, "maximum_amount", "EUR 25")
    set_setting(app, "minimum_amount", "100 USD")  # another currency's limit does not apply
    refused(app, AmountOutOfRangeError, lambda: redeem(app, refill))
    refused(app, AmountOutOfRangeError, lambda: redeem(app, crm))

    set_setting(app, "minimum_amount.EUR", "10")  # the minimum itself is allowed
    set_setting(app, "maximum_amount.EUR", "none")
    assert redeem(app, refill, currency="eur").paid_minor == 1000
    assert redeem(app, crm).paid_minor == 3000


def test_once_per_type_refuses_a_second_voucher_of_the_type_from_any_lot(app: App) -> None:
    once = RedemptionRules(per_customer=PerCustomer.ONCE_PER_TYPE)
    first_lot = issue(app, "ONCE", 3, name="Once", value_minor=1000, rules=once)
    (other_lot,) = issue(app, "ONCE", 1)
    (refill,) = refills(app)
    customer(app, "C1")
    customer(app, "C2")
    result = redeem(app, first_lot[0])
    refused(app, AlreadyRedeemedError, lambda: redeem(app, first_lot[1]))
    refused(app, AlreadyRedeemedError, lambda: redeem(app, other_lot))
    assert redeem(app, first_lot[1], "C2").paid_minor == 1000  # another customer may
    assert redeem(app, refill).paid_minor == 1000  # and so may another type
    assert balance(app) == (2000, 0)

    # A reversed redemption no longer counts
    reverse(app, result.redemption_id)
    assert redeem(app, first_lot[2]).paid_minor == 1000


def test_once_per_lot_allows_one_voucher_of_each_lot(app: App) -> None:
    once = RedemptionRules(per_customer=PerCustomer.ONCE_PER_LOT)
    first_lot = issue(app, "ONCELOT", 2, name="Once per lot", value_minor=1000, rules=once)
    (other_lot,) = issue(app, "ONCELOT", 1)
    customer(app, "C1")
    redeem(app, first_lot[0])
    refused(app, AlreadyRedeemedError, lambda: redeem(app, first_lot[1]))
    assert redeem(app, other_lot).paid_minor == 1000
    assert balance(app) == (2000, 0)


def test_first_top_up_kyc_and_blocked_customers(app: App) -> None:
    first = issue(
        app,
        "FIRST",
        2,
        name="First top-up",
        value_minor=1000,
        rules=RedemptionRules(first_topup_only=True),
    )
    (kyc,) = issue(
        app, "KYC", 1, name="KYC only", value_minor=1000, rules=RedemptionRules(kyc_required=True)
    )
    (refill,) = refills(app)
    customer(app, "C1")
    customer(app, "C2", kyc_verified=True)
    customer(app, "C3")

    # First top-up only
    redeem(app, refill)
    refused(app, FirstTopUpOnlyError, lambda: redeem(app, first[0]))
    assert redeem(app, first[0], "C2").paid_minor == 1000
    refused(app, FirstTopUpOnlyError, lambda: redeem(app, first[1], "C2"))

    # KYC verified required
    refused(app, KycRequiredError, lambda: redeem(app, kyc, "C3"))
    customers.update_customer(
        "C3",
        {"status": "blocked", "kyc_verified": True},
        uow=app.uow(),
        clock=app.clock,
        actor="support",
    )
    refused(app, CustomerBlockedError, lambda: redeem(app, kyc, "C3"))
    assert redeem(app, kyc, "C2").paid_minor == 1000


def test_an_unknown_customer_is_refused_unless_the_request_creates_it(app: App) -> None:
    (code,) = refills(app)
    refused(app, CustomerNotFoundError, lambda: redeem(app, code, "NEW-1"))
    before = snapshot(app)
    assert validate(app, code, "NEW-1", create_customer=True).paid_minor == 1000
    assert snapshot(app) == before  # a dry run creates no one
    assert redeem(app, code, "NEW-1", create_customer=True).paid_minor == 1000
    assert customers.get_customer("NEW-1", uow=app.uow()).created_by == "api"
    assert balance(app, "NEW-1") == (1000, 0)


# -- idempotency ---------------------------------------------------------------------------


def test_an_idempotency_key_replays_the_first_result_and_refuses_another_request(
    app: App,
) -> None:
    codes = bonus_type(app, "TENPC", 3, multiplier=Decimal("1.1"))
    customer(app, "C1")
    first = redeem(app, codes[0], amount="100", idempotency_key="K-1")

    # A replay returns the first result unchanged and moves nothing
    before = snapshot(app)
    again = redeem(app, codes[0], amount="100", idempotency_key="K-1")
    assert snapshot(app) == before
    assert (again.replayed, first.replayed) == (True, False)
    assert dataclasses.replace(again, replayed=False) == first

    # The same key with a different request is refused
    refused(
        app,
        IdempotencyKeyReusedError,
        lambda: redeem(app, codes[1], amount="100", idempotency_key="K-1"),
    )
    refused(
        app,
        IdempotencyKeyReusedError,
        lambda: redeem(app, codes[0], amount="200", idempotency_key="K-1"),
    )
    assert state_of(app, codes[1]) is VoucherState.ACTIVATED
    assert balance(app) == (10000, 1000)

    # Keys belong to one caller
    other = redeem(app, codes[2], amount="100", caller="shop-b", idempotency_key="K-1")
    assert not other.replayed
    assert balance(app) == (20000, 2000)


# -- validate: the same checks, nothing moves ----------------------------------------------


def test_validate_gives_the_amounts_of_a_redemption_and_moves_nothing(app: App) -> None:
    (code,) = bonus_type(app, "PLUS50", 1, addition_minor=5000, minimum_activation_minor=10000)
    customer(app, "C1")
    refused(app, MinimumActivationError, lambda: validate(app, code, amount="50"))
    before = snapshot(app)
    dry = validate(app, code, amount="120")
    assert snapshot(app) == before
    assert (dry.paid_minor, dry.bonus_minor, dry.redemption_id) == (12000, 5000, None)
    done = redeem(app, code, amount="120")
    assert (done.paid_minor, done.bonus_minor, done.topup_minor) == (
        dry.paid_minor,
        dry.bonus_minor,
        dry.topup_minor,
    )
    refused(app, VoucherUsedError, lambda: validate(app, code, amount="120"))


# -- reversal ------------------------------------------------------------------------------


def test_a_reversal_undoes_the_credit_with_new_entries_and_reactivates_the_voucher(
    app: App,
) -> None:
    (code,) = all_services(app)
    customer(app, "C1")
    result = redeem(app, code)
    refused(app, ValidationError, lambda: reverse(app, result.redemption_id, reason="  "))

    reversed_ = reverse(app, result.redemption_id, reason="wrong account")
    assert reversed_.status is RedemptionStatus.REVERSED
    assert (reversed_.reversed_by, reversed_.reversed_at) == ("finance", NOW)
    stored = redemptions.get_redemption(result.redemption_id or 0, uow=app.uow())
    assert stored.status is RedemptionStatus.REVERSED
    assert balance(app) == (0, 0)
    assert state_of(app, code) is VoucherState.ACTIVATED
    entries = ledger.journal(uow=app.uow(), customer="C1")
    assert [entry.kind for entry in entries] == [EntryKind.REVERSAL, EntryKind.REDEMPTION]
    assert entries[0].memo == "wrong account"
    assert sorted(p.amount_minor for p in entries[0].postings) == sorted(
        -p.amount_minor for p in entries[1].postings
    )
    assert all(amount == 0 for amount in totals(app).values())
    processes = [row["process"] for row in history_rows(app)]
    assert processes[-2:] == ["redeem", "reverse"]
    assert len(events_of(app, "redemption.reversed")) == 1

    # A second reversal is refused; the voucher can be redeemed again
    refused(app, ReversalRefusedError, lambda: reverse(app, result.redemption_id))
    assert redeem(app, code).balance_paid_minor == 3000


def test_a_reversal_window_is_configurable_and_expiry_shows_after_a_reversal(
    app: App, clock: MovingClock
) -> None:
    on_time, late = refills(app, 2)
    expires = NOW + timedelta(days=35)
    (short,) = issue(app, "SHORT", 1, name="Short", value_minor=1000, lot={"expires_at": expires})
    customer(app, "C1")
    results = [redeem(app, code) for code in (on_time, late, short)]
    assert balance(app) == (3000, 0)

    clock.advance(days=30)  # the last instant of the default 30-day window
    reverse(app, results[0].redemption_id)
    clock.advance(seconds=1)
    refused(app, ReversalRefusedError, lambda: reverse(app, results[1].redemption_id))
    set_setting(app, "reversal_window_days", "40")
    reverse(app, results[1].redemption_id)
    assert balance(app) == (1000, 0)

    clock.advance(days=5)  # past the short voucher's expiration
    reverse(app, results[2].redemption_id)
    assert balance(app) == (0, 0)
    assert state_of(app, short) is VoucherState.ACTIVATED  # as stored; expiry is derived
    refused(app, VoucherExpiredError, lambda: redeem(app, short))


def test_a_reversal_is_refused_when_the_wallet_no_longer_holds_the_credit(app: App) -> None:
    (code,) = all_services(app)
    customer(app, "C1")
    result = redeem(app, code)
    debit(app, "C1", "10.00")
    assert balance(app) == (2500, 0)
    refused(app, InsufficientFundsError, lambda: reverse(app, result.redemption_id))
    assert state_of(app, code) is VoucherState.USED
    stored = redemptions.get_redemption(result.redemption_id or 0, uow=app.uow())
    assert stored.status is RedemptionStatus.COMPLETED


# -- wallet debits -------------------------------------------------------------------------


def test_a_debit_spends_bonus_first_unless_the_setting_or_the_call_says_otherwise(
    app: App,
) -> None:
    codes = all_services(app, 2)
    customer(app, "C1")
    customer(app, "C2")
    redeem(app, codes[0])
    redeem(app, codes[1], "C2")

    spent = debit(app, "C1", "8.00", reference="call-1")
    assert (spent.bonus_minor, spent.paid_minor) == (500, 300)
    assert (spent.balance_paid_minor, spent.balance_bonus_minor) == (2700, 0)
    assert balance(app) == (2700, 0)

    spent = debit(app, "C2", "8.00", order=DebitOrder.PAID_FIRST)
    assert (spent.bonus_minor, spent.paid_minor) == (0, 800)

    set_setting(app, "debit_order", "paid_first")
    spent = debit(app, "C2", "23.00")
    assert (spent.bonus_minor, spent.paid_minor) == (100, 2200)
    spent = debit(app, "C2", "1.00", order=DebitOrder.BONUS_FIRST)
    assert (spent.bonus_minor, spent.paid_minor) == (100, 0)
    assert balance(app, "C2") == (0, 300)
    assert totals(app)["spending"] == 800 + 800 + 2300 + 100


def test_a_debit_is_idempotent_and_never_takes_a_wallet_below_zero(app: App) -> None:
    (code,) = all_services(app)
    customer(app, "C1")
    customer(app, "C2")
    redeem(app, code)
    first = debit(app, "C1", "5.00", idempotency_key="D-1")
    again = debit(app, "C1", "5.00", idempotency_key="D-1")
    assert again.replayed
    assert dataclasses.replace(again, replayed=False) == first
    assert balance(app) == (3000, 0)
    refused(app, IdempotencyKeyReusedError, lambda: debit(app, "C1", "6.00", idempotency_key="D-1"))

    refused(app, InsufficientFundsError, lambda: debit(app, "C1", "30.01"))
    refused(app, InsufficientFundsError, lambda: debit(app, "C2", "0.01"))
    refused(app, ValidationError, lambda: debit(app, "C1", "0"))
    debit(app, "C1", "30.00")
    assert balance(app) == (0, 0)


# -- settings, events, history ------------------------------------------------------------


def test_each_settings_change_is_recorded_with_who_when_old_and_new(
    app: App, clock: MovingClock
) -> None:
    assert set_setting(app, "reversal_window_days", "7", actor="ops")["old"] is None
    clock.advance(hours=1)
    change = set_setting(app, "reversal_window_days", "14", actor="finance")
    assert (change["key"], change["old"], change["new"], change["by"]) == (
        "reversal_window_days",
        "7",
        "14",
        "finance",
    )
    set_setting(app, "minimum_amount", "10 EUR")
    set_setting(app, "reversal_window_days", "none")
    refused(app, ValidationError, lambda: set_setting(app, "reversal_window_days", "-1"))
    changes = settings.setting_changes(uow=app.uow())
    assert [(c["key"], c["old"], c["new"], c["by"]) for c in changes] == [
        ("reversal_window_days", "14", None, "ops"),
        ("minimum_amount.EUR", None, "10.00", "ops"),
        ("reversal_window_days", "7", "14", "finance"),
        ("reversal_window_days", None, "7", "ops"),
    ]
    assert changes[-1]["at"].replace(tzinfo=None) == NOW.replace(tzinfo=None)
    assert changes[-2]["at"].replace(tzinfo=None) == (NOW + timedelta(hours=1)).replace(tzinfo=None)
    shown = settings.show_settings(uow=app.uow())
    assert (shown["reversal_window_days"], shown["minimum_amount.EUR"]) == ("30", "10.00")


def test_history_records_the_redemption_and_large_ones_raise_an_event(app: App) -> None:
    codes = all_services(app, 2)
    customer(app, "C1")
    set_setting(app, "large_redemption_threshold.EUR", "35")
    assert redeem(app, codes[0]).events == ["voucher.redeemed", "redemption.large"]
    set_setting(app, "large_redemption_threshold.EUR", "35.01")
    assert redeem(app, codes[1]).events == ["voucher.redeemed"]

    rows = history_rows(app, process="redeem")
    assert [row["voucher_number"] for row in rows] == [numbers(app)[c] for c in codes]
    assert (rows[0]["field"], rows[0]["from_value"], rows[0]["to_value"], rows[0]["by"]) == (
        "state",
        "activated",
        "used",
        "api",
    )
    assert rows[0]["note"] == "customer C1 via cli"
    redeemer = customers.get_customer("C1", uow=app.uow())
    with app.uow() as uow:
        voucher = uow.vouchers.get(rows[0]["voucher_number"])
    assert (voucher.used_by, voucher.used_at) == (redeemer.id, NOW)


# -- anti-guessing -------------------------------------------------------------------------


def test_a_thousand_random_guesses_lock_the_customer_out_after_ten(
    app: App, clock: MovingClock
) -> None:
    (code,) = refills(app)
    customer(app, "C1")
    customer(app, "C2")
    set_setting(app, "guess_alert_per_window", "10")
    guesses = CodeFormat().generate(1010)

    # When one customer tries 1,000 random well-formed codes
    outcomes: list[str] = []
    retry_after = []
    for guess in guesses[:1000]:
        try:
            redeem(app, guess)
        except VoucherUnknownError:
            outcomes.append("unknown")
        except TooManyAttemptsError as exc:
            outcomes.append("locked")
            retry_after.append(exc.retry_after)

    # Then the first ten are guesses and everything after is refused for an hour
    assert outcomes == ["unknown"] * 10 + ["locked"] * 990
    assert set(retry_after) == {3600}
    (locked,) = events_of(app, "attempts.locked")
    assert locked["payload"]["subject"] == "customer:C1"
    assert len(events_of(app, "attempts.spike")) == 1

    # A correct code during the lock-out is refused too, and nothing moves
    error = refused(app, TooManyAttemptsError, lambda: redeem(app, code))
    assert error.retry_after > 0  # type: ignore[attr-defined]
    refused(app, TooManyAttemptsError, lambda: validate(app, code))
    # Another customer is not locked out by C1's guesses
    assert validate(app, code, "C2").paid_minor == 1000

    # When the lock-out ends the correct code goes through
    clock.advance(minutes=61)
    assert redeem(app, code).paid_minor == 1000

    # A second lock-out within a day lasts twice as long
    for guess in guesses[1000:]:
        with pytest.raises(VoucherUnknownError):
            redeem(app, guess)
    with pytest.raises(TooManyAttemptsError) as second:
        validate(app, code)
    assert second.value.retry_after == 7200


def test_typos_are_counted_apart_and_leniently_up_to_their_own_limit(app: App) -> None:
    (code,) = refills(app)
    customer(app, "C1")
    typo = typo_of(code)
    refused(app, ValidationError, lambda: redeem(app, "   "))  # a bad request, not a typo

    # 49 typos, far past the guess limit of 10, and 9 guesses do not lock
    for _ in range(49):
        with pytest.raises(MalformedCodeError) as caught:
            redeem(app, typo)
        assert caught.value.reason == "check"
    for guess in CodeFormat().generate(9):
        with pytest.raises(VoucherUnknownError):
            redeem(app, guess)
    assert validate(app, code).paid_minor == 1000

    # The 50th typo does
    with pytest.raises(MalformedCodeError):
        redeem(app, typo)
    refused(app, TooManyAttemptsError, lambda: redeem(app, code))
    assert state_of(app, code) is VoucherState.ACTIVATED


@pytest.fixture
def statements(app: App) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs while the test records."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    sa.event.listen(app.engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(app.engine, "before_cursor_execute", record)


VOUCHERS_TABLE = re.compile(r"\bvouchers\b", re.IGNORECASE)


def test_a_typo_never_reads_the_voucher_table_but_a_guess_does(
    app: App, statements: list[str]
) -> None:
    (code,) = refills(app)
    customer(app, "C1")
    statements.clear()
    with pytest.raises(MalformedCodeError):
        redeem(app, typo_of(code))
    assert any("failed_attempts" in s for s in statements)  # the typo was counted
    assert [s for s in statements if VOUCHERS_TABLE.search(s)] == []
    statements.clear()
    (guess,) = CodeFormat().generate(1)
    with pytest.raises(VoucherUnknownError):
        redeem(app, guess)
    assert [s for s in statements if VOUCHERS_TABLE.search(s)] != []
