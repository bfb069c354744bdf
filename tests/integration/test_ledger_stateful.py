"""Random sequences of redeem, debit, reverse, cancel and validate keep the books straight.

A Hypothesis state machine drives the real services on a real database and keeps its own
model of what every wallet and voucher should hold. After every step the books must agree
with themselves (every journal entry sums to zero per currency, wallets equal the journal,
no balance below zero, no voucher used twice) and with the model.

Building a database per example is slow, so one app serves a whole test run: every
example gets its own customers and its own vouchers, taken from a pool of activated
vouchers issued in batches, and the model covers only what the example owns. The
book-wide invariants run over everything stored so far.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from support.factories import activate_lot, clear_codes, generate_lot_with, make_type
from support.redeeming import customer, debit, redeem, validate
from vouchers.adapters.db import schema
from vouchers.bootstrap import App
from vouchers.domain.ledger import DebitOrder
from vouchers.domain.lifecycle import Process
from vouchers.domain.money import currency
from vouchers.domain.redemptions import RedemptionStatus
from vouchers.domain.voucher_types import BonusRule, VoucherKind
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import (
    CurrencyMismatchError,
    InsufficientFundsError,
    InvalidTransitionError,
    MinimumActivationError,
    ReversalRefusedError,
    VoucherCancelledError,
    VouchersError,
    VoucherUsedError,
)
from vouchers.services import customers, ledger, processes, reversals
from vouchers.services.processes import Selection

CURRENCIES = ("EUR", "USD")
STORED, TOPUP = "stored", "topup"
KINDS = (STORED, TOPUP)

# Stored value: value → paid, extra → bonus.
STORED_VALUE = {"EUR": 1000, "USD": 2000}
STORED_EXTRA = {"EUR": 250, "USD": 100}
# Top-up bonus: top-up P ≥ 10.00 → paid P; bonus extra + 5.00 + P × 0.1 (half-even).
TOPUP_EXTRA = 100
MULTIPLIER = Decimal("1.1")
ADDITION = 500
MINIMUM_ACTIVATION = 1000

# Top-ups mostly at or above the minimum, so that most bonus redemptions go through; those
# ending in 5 minor units earn a bonus of exactly half a minor unit, rounded half-even.
TOPUPS = st.one_of(
    st.integers(MINIMUM_ACTIVATION, 10_000),
    st.integers(MINIMUM_ACTIVATION // 10, 999).map(lambda tens: tens * 10 + 5),
    st.integers(0, MINIMUM_ACTIVATION - 1),
)
ASKED = st.sampled_from([None, None, None, *CURRENCIES])

CUSTOMERS_PER_EXAMPLE = 3
VOUCHERS_PER_KIND = 3  # per kind and currency
VOUCHERS = len(KINDS) * len(CURRENCIES) * VOUCHERS_PER_KIND  # per example, grouped in that order
# Only the last voucher of each group may be cancelled, so cancels cannot starve redemptions.
CANCELLABLE = tuple(range(VOUCHERS_PER_KIND - 1, VOUCHERS, VOUCHERS_PER_KIND))
BATCH = 30

_examples = itertools.count(1)


def type_code(kind: str, code: str) -> str:
    return f"{'SV' if kind == STORED else 'TB'}-{code}"


class VoucherPool:
    """Activated, never touched vouchers of each kind and currency, issued in batches."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.fresh: dict[tuple[str, str], list[tuple[int, str]]] = {
            (kind, code): [] for kind in KINDS for code in CURRENCIES
        }
        for kind in KINDS:
            for code in CURRENCIES:
                self._make_type(kind, code)

    def _make_type(self, kind: str, code: str) -> None:
        if kind == STORED:
            make_type(
                self.app,
                type_code(kind, code),
                currency=currency(code),
                value_minor=STORED_VALUE[code],
                extra_value_minor=STORED_EXTRA[code],
            )
        else:
            make_type(
                self.app,
                type_code(kind, code),
                kind=VoucherKind.TOPUP_BONUS,
                currency=currency(code),
                value_minor=None,
                extra_value_minor=TOPUP_EXTRA,
                bonus=BonusRule(
                    minimum_activation_minor=MINIMUM_ACTIVATION,
                    multiplier=MULTIPLIER,
                    addition_minor=ADDITION,
                ),
            )

    def take(self, kind: str, code: str, count: int) -> list[tuple[int, str]]:
        """``count`` fresh (number, code) pairs; issues another batch when short."""
        fresh = self.fresh[(kind, code)]
        if len(fresh) < count:
            before = set(clear_codes(self.app))
            lot = generate_lot_with(self.app, type_code(kind, code), BATCH)
            activate_lot(self.app, lot)
            codes = clear_codes(self.app)
            fresh.extend((n, codes[n]) for n in sorted(set(codes) - before))
        taken, fresh[:] = fresh[:count], fresh[count:]
        return taken


@dataclass
class VoucherModel:
    number: int
    code: str
    kind: str
    currency: str
    state: VoucherState = VoucherState.ACTIVATED


@dataclass
class RedemptionModel:
    id: int
    customer: str
    voucher: int
    currency: str
    paid: int
    bonus: int
    status: RedemptionStatus = RedemptionStatus.COMPLETED


@dataclass
class Expected:
    """What a redemption should do: an error class, or the credit it makes."""

    error: type[VouchersError] | None = None
    paid: int = 0
    bonus: int = 0


@dataclass
class Books:
    wallets: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def of(self, ref: str, code: str) -> list[int]:
        return self.wallets.setdefault((ref, code), [0, 0])


def multiplier_bonus(topup_minor: int) -> int:
    exact = Decimal(topup_minor) * (MULTIPLIER - 1)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def as_amount(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


class LedgerMachine(RuleBasedStateMachine):
    """The model and the rules; ``app`` and ``pool`` are set by the test (see below)."""

    app: ClassVar[App]
    pool: ClassVar[VoucherPool]

    redemptions = Bundle("redemptions")

    def __init__(self) -> None:
        super().__init__()
        example = next(_examples)
        self.customers = [f"E{example}-C{i}" for i in range(CUSTOMERS_PER_EXAMPLE)]
        for ref in self.customers:
            customer(self.app, ref)
        self.vouchers: list[VoucherModel] = [
            VoucherModel(number, code, kind, unit)
            for kind in KINDS
            for unit in CURRENCIES
            for number, code in self.pool.take(kind, unit, VOUCHERS_PER_KIND)
        ]
        self.books = Books()
        self.done: dict[int, RedemptionModel] = {}

    # -- what the model expects ------------------------------------------------------------

    def expect(self, voucher: VoucherModel, topup: int, asked: str | None) -> Expected:
        if voucher.state is VoucherState.USED:
            return Expected(VoucherUsedError)
        if voucher.state is VoucherState.CANCELLED:
            return Expected(VoucherCancelledError)
        if asked is not None and asked != voucher.currency:
            return Expected(CurrencyMismatchError)
        if voucher.kind == STORED:
            return Expected(
                paid=STORED_VALUE[voucher.currency], bonus=STORED_EXTRA[voucher.currency]
            )
        if topup < MINIMUM_ACTIVATION:
            return Expected(MinimumActivationError)
        return Expected(paid=topup, bonus=TOPUP_EXTRA + ADDITION + multiplier_bonus(topup))

    def request_fields(
        self, voucher: VoucherModel, topup: int, asked: str | None
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {"currency": asked}
        if voucher.kind == TOPUP:
            fields["amount"] = as_amount(topup)
        return fields

    # -- rules -----------------------------------------------------------------------------

    @initialize(target=redemptions, who=st.integers(0, CUSTOMERS_PER_EXAMPLE - 1))
    def fund(self, who: int) -> Any:
        """Start with money to spend: one stored-value voucher of each currency redeemed."""
        ids = []
        for unit in CURRENCIES:
            which = next(
                i for i, v in enumerate(self.vouchers) if (v.kind, v.currency) == (STORED, unit)
            )
            ids.append(self.redeem(who, which, 0, None, validate_first=False))
        return multiple(*ids)

    @rule(
        target=redemptions,
        who=st.integers(0, CUSTOMERS_PER_EXAMPLE - 1),
        which=st.integers(0, VOUCHERS - 1),
        topup=TOPUPS,
        asked=ASKED,
        validate_first=st.booleans(),
    )
    def redeem(
        self, who: int, which: int, topup: int, asked: str | None, validate_first: bool
    ) -> Any:
        ref, voucher = self.customers[who], self.vouchers[which]
        if validate_first:  # a validation changes nothing, so the redemption expects the same
            self.validate(who, which, topup, asked)
        expected = self.expect(voucher, topup, asked)
        fields = self.request_fields(voucher, topup, asked)
        if expected.error is not None:
            with pytest.raises(expected.error):
                redeem(self.app, voucher.code, ref, **fields)
            return multiple()
        result = redeem(self.app, voucher.code, ref, **fields)
        assert (result.paid_minor, result.bonus_minor) == (expected.paid, expected.bonus)
        assert result.voucher_number == voucher.number
        assert result.currency == voucher.currency
        wallet = self.books.of(ref, voucher.currency)
        wallet[0] += expected.paid
        wallet[1] += expected.bonus
        assert (result.balance_paid_minor, result.balance_bonus_minor) == tuple(wallet)
        voucher.state = VoucherState.USED
        assert result.redemption_id is not None
        done = RedemptionModel(
            result.redemption_id,
            ref,
            voucher.number,
            voucher.currency,
            *(expected.paid, expected.bonus),
        )
        self.done[done.id] = done
        return done.id

    @rule(
        who=st.integers(0, CUSTOMERS_PER_EXAMPLE - 1),
        which=st.integers(0, VOUCHERS - 1),
        topup=TOPUPS,
        asked=ASKED,
    )
    def validate(self, who: int, which: int, topup: int, asked: str | None) -> None:
        ref, voucher = self.customers[who], self.vouchers[which]
        expected = self.expect(voucher, topup, asked)
        fields = self.request_fields(voucher, topup, asked)
        if expected.error is not None:
            with pytest.raises(expected.error):
                validate(self.app, voucher.code, ref, **fields)
            return
        result = validate(self.app, voucher.code, ref, **fields)
        assert (result.paid_minor, result.bonus_minor) == (expected.paid, expected.bonus)
        assert result.redemption_id is None  # nothing moved; the invariants check the rest

    @rule(
        pick=st.integers(0, CUSTOMERS_PER_EXAMPLE * len(CURRENCIES) - 1),
        percent=st.integers(1, 100),
        overdraw=st.booleans(),
        order=st.sampled_from([None, DebitOrder.BONUS_FIRST, DebitOrder.PAID_FIRST]),
    )
    def debit(self, pick: int, percent: int, overdraw: bool, order: DebitOrder | None) -> None:
        # A wallet that holds something if there is one (an empty one is refused like an
        # overdraft), and a share of what it holds (all of it at 100%) or more than that.
        every = [(ref, unit) for ref in self.customers for unit in CURRENCIES]
        funded = [key for key in every if sum(self.books.of(*key)) > 0]
        ref, unit = funded[pick % len(funded)] if funded else every[pick]
        wallet = self.books.of(ref, unit)
        paid, bonus = wallet
        amount = paid + bonus + percent if overdraw else max(1, (paid + bonus) * percent // 100)
        if amount > paid + bonus:
            with pytest.raises(InsufficientFundsError):
                debit(self.app, ref, as_amount(amount), unit, order=order)
            return
        result = debit(self.app, ref, as_amount(amount), unit, order=order)
        if order is DebitOrder.PAID_FIRST:
            from_paid = min(paid, amount)
            from_bonus = amount - from_paid
        else:  # bonus first, also the default setting
            from_bonus = min(bonus, amount)
            from_paid = amount - from_bonus
        assert (result.paid_minor, result.bonus_minor) == (from_paid, from_bonus)
        wallet[0] -= from_paid
        wallet[1] -= from_bonus
        assert (result.balance_paid_minor, result.balance_bonus_minor) == tuple(wallet)

    @rule(redemption_id=redemptions)
    def reverse(self, redemption_id: int) -> None:
        done = self.done[redemption_id]
        wallet = self.books.of(done.customer, done.currency)
        call = {"reason": "test", "uow": self.app.uow(), "clock": self.app.clock, "actor": "fin"}
        if done.status is RedemptionStatus.REVERSED:
            with pytest.raises(ReversalRefusedError):
                reversals.reverse_redemption(redemption_id, **call)
            return
        if wallet[0] < done.paid or wallet[1] < done.bonus:
            with pytest.raises(InsufficientFundsError):
                reversals.reverse_redemption(redemption_id, **call)
            return
        reversed_ = reversals.reverse_redemption(redemption_id, **call)
        assert reversed_.status is RedemptionStatus.REVERSED
        wallet[0] -= done.paid
        wallet[1] -= done.bonus
        done.status = RedemptionStatus.REVERSED
        voucher = next(v for v in self.vouchers if v.number == done.voucher)
        voucher.state = VoucherState.ACTIVATED

    @rule(which=st.sampled_from(CANCELLABLE))
    def cancel(self, which: int) -> None:
        voucher = self.vouchers[which]
        call = {"uow": self.app.uow(), "clock": self.app.clock, "actor": "bob"}
        selection = Selection(number=voucher.number)
        if voucher.state is not VoucherState.ACTIVATED:
            with pytest.raises(InvalidTransitionError):
                processes.run_process(Process.CANCEL, selection, **call)
            return
        outcome = processes.run_process(Process.CANCEL, selection, **call)
        assert outcome.count == 1
        voucher.state = VoucherState.CANCELLED

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def the_books_balance(self) -> None:
        check = ledger.verify_ledger(uow=self.app.uow())
        assert check.ok, check
        p, w = schema.postings, schema.wallets
        with self.app.engine.connect() as connection:
            total = sa.func.sum(p.c.amount_minor)
            unbalanced = connection.execute(
                sa.select(p.c.entry_id, p.c.currency, total)
                .group_by(p.c.entry_id, p.c.currency)
                .having(total != 0)
            ).all()
            negative = connection.execute(
                sa.select(w).where(sa.or_(w.c.paid_minor < 0, w.c.bonus_minor < 0))
            ).all()
        assert unbalanced == []
        assert negative == []

    @invariant()
    def no_voucher_is_used_twice(self) -> None:
        r, v = schema.redemptions, schema.vouchers
        completed = r.c.status == RedemptionStatus.COMPLETED.value
        numbers = [m.number for m in self.vouchers]
        with self.app.engine.connect() as connection:
            twice = connection.execute(
                sa.select(r.c.voucher_number)
                .where(completed)
                .group_by(r.c.voucher_number)
                .having(sa.func.count() > 1)
            ).all()
            per_voucher = dict(
                connection.execute(
                    sa.select(r.c.voucher_number, sa.func.count())
                    .where(completed, r.c.voucher_number.in_(numbers))
                    .group_by(r.c.voucher_number)
                ).all()
            )
            states = dict(
                connection.execute(
                    sa.select(v.c.number, v.c.state).where(v.c.number.in_(numbers))
                ).all()
            )
        assert twice == []
        for voucher in self.vouchers:
            assert states[voucher.number] == voucher.state.value, voucher
            used = voucher.state is VoucherState.USED
            assert per_voucher.get(voucher.number, 0) == (1 if used else 0), voucher

    @invariant()
    def stored_balances_match_the_model(self) -> None:
        for ref in self.customers:
            _, wallets = customers.customer_wallets(ref, uow=self.app.uow())
            stored = {w.currency: (w.paid_minor, w.bonus_minor) for w in wallets}
            for unit in CURRENCIES:
                model = tuple(self.books.wallets.get((ref, unit), (0, 0)))
                assert stored.get(unit, (0, 0)) == model, (ref, unit)
                assert min(model) >= 0


def run_machine(app: App, *, max_examples: int, steps: int) -> None:
    machine = type(
        "LedgerMachineOn" + app.engine.dialect.name.title(),
        (LedgerMachine,),
        {"app": app, "pool": VoucherPool(app)},
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=steps,
            deadline=None,
            database=None,
        ),
    )


def test_random_redeem_debit_reverse_cancel_sequences_keep_the_books(app: App) -> None:
    if app.engine.dialect.name == "sqlite":
        run_machine(app, max_examples=25, steps=20)
    else:
        run_machine(app, max_examples=10, steps=15)
