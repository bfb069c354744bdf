"""The ledger in the domain: splitting a debit, its postings, wallet changes, balance checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vouchers.domain.ledger import (
    Account,
    DebitOrder,
    DebitSplit,
    Posting,
    Wallet,
    check_balanced,
    debit_postings,
    split_debit,
    wallet_changes,
)
from vouchers.errors import InsufficientFundsError, ValidationError

CUSTOMER_ID = 7
WALLET = Wallet(CUSTOMER_ID, "EUR", paid_minor=3000, bonus_minor=500)


def test_a_wallet_total_is_paid_and_bonus_together() -> None:
    assert WALLET.total_minor == 3500
    assert Wallet(CUSTOMER_ID, "EUR").total_minor == 0


# -- split_debit ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "bonus", "paid"),
    [(300, 300, 0), (500, 500, 0), (800, 500, 300), (3500, 500, 3000)],
)
def test_bonus_first_spends_the_bonus_balance_before_the_paid_one(
    amount: int, bonus: int, paid: int
) -> None:
    assert split_debit(WALLET, amount, DebitOrder.BONUS_FIRST) == DebitSplit(bonus, paid)


@pytest.mark.parametrize(
    ("amount", "bonus", "paid"),
    [(300, 0, 300), (3000, 0, 3000), (3200, 200, 3000), (3500, 500, 3000)],
)
def test_paid_first_spends_the_paid_balance_before_the_bonus_one(
    amount: int, bonus: int, paid: int
) -> None:
    assert split_debit(WALLET, amount, DebitOrder.PAID_FIRST) == DebitSplit(bonus, paid)


@pytest.mark.parametrize("order", list(DebitOrder))
def test_a_debit_beyond_the_wallet_total_is_refused(order: DebitOrder) -> None:
    with pytest.raises(InsufficientFundsError, match=r"holds 35\.00 EUR, less than 35\.01 EUR"):
        split_debit(WALLET, 3501, order)


def test_an_empty_wallet_refuses_any_debit() -> None:
    with pytest.raises(InsufficientFundsError):
        split_debit(Wallet(CUSTOMER_ID, "EUR"), 1, DebitOrder.BONUS_FIRST)


@pytest.mark.parametrize("amount", [0, -1, -500])
def test_a_debit_must_be_for_an_amount_above_zero(amount: int) -> None:
    with pytest.raises(ValidationError, match="above zero"):
        split_debit(WALLET, amount, DebitOrder.BONUS_FIRST)


@given(
    paid=st.integers(min_value=0, max_value=10**12),
    bonus=st.integers(min_value=0, max_value=10**12),
    amount=st.integers(min_value=1, max_value=2 * 10**12),
    order=st.sampled_from(list(DebitOrder)),
)
def test_a_split_never_takes_a_balance_below_zero_and_adds_up(
    paid: int, bonus: int, amount: int, order: DebitOrder
) -> None:
    wallet = Wallet(CUSTOMER_ID, "EUR", paid, bonus)
    if amount > wallet.total_minor:
        with pytest.raises(InsufficientFundsError):
            split_debit(wallet, amount, order)
        return
    split = split_debit(wallet, amount, order)
    assert split.bonus_minor + split.paid_minor == amount
    assert 0 <= split.bonus_minor <= bonus
    assert 0 <= split.paid_minor <= paid
    first, second = (
        (split.bonus_minor, bonus) if order is DebitOrder.BONUS_FIRST else (split.paid_minor, paid)
    )
    assert first == min(second, amount)


# -- debit_postings ------------------------------------------------------------------------


def test_debit_postings_take_from_both_balances_into_spending() -> None:
    postings = debit_postings(CUSTOMER_ID, "EUR", DebitSplit(bonus_minor=500, paid_minor=300))
    assert postings == [
        Posting(Account.WALLET_BONUS, -500, "EUR", CUSTOMER_ID),
        Posting(Account.WALLET_PAID, -300, "EUR", CUSTOMER_ID),
        Posting(Account.SPENDING, 800, "EUR"),
    ]
    check_balanced(postings)


@pytest.mark.parametrize(
    ("split", "wallet_account"),
    [(DebitSplit(0, 300), Account.WALLET_PAID), (DebitSplit(300, 0), Account.WALLET_BONUS)],
)
def test_debit_postings_leave_out_a_balance_that_gives_nothing(
    split: DebitSplit, wallet_account: Account
) -> None:
    postings = debit_postings(CUSTOMER_ID, "EUR", split)
    assert postings == [
        Posting(wallet_account, -300, "EUR", CUSTOMER_ID),
        Posting(Account.SPENDING, 300, "EUR"),
    ]


@given(
    bonus=st.integers(min_value=0, max_value=10**12),
    paid=st.integers(min_value=0, max_value=10**12),
)
def test_debit_postings_always_balance(bonus: int, paid: int) -> None:
    postings = debit_postings(CUSTOMER_ID, "JPY", DebitSplit(bonus, paid))
    check_balanced(postings)
    assert wallet_changes(postings).get((CUSTOMER_ID, "JPY"), (0, 0)) == (-paid, -bonus)


# -- wallet_changes --------------------------------------------------------------------------


def test_wallet_changes_sum_each_wallet_and_ignore_system_accounts() -> None:
    postings = [
        Posting(Account.VOUCHER_FLOAT, -3000, "EUR"),
        Posting(Account.WALLET_PAID, 3000, "EUR", 1),
        Posting(Account.BONUS_EXPENSE, -500, "EUR"),
        Posting(Account.WALLET_BONUS, 500, "EUR", 1),
        Posting(Account.WALLET_BONUS, -200, "EUR", 1),
        Posting(Account.WALLET_PAID, 1000, "USD", 1),
        Posting(Account.WALLET_BONUS, 70, "EUR", 2),
    ]
    assert wallet_changes(postings) == {
        (1, "EUR"): (3000, 300),
        (1, "USD"): (1000, 0),
        (2, "EUR"): (0, 70),
    }


def test_wallet_changes_of_system_postings_only_are_empty() -> None:
    assert wallet_changes([Posting(Account.SPENDING, 1, "EUR")]) == {}
    assert wallet_changes([]) == {}


# -- postings and check_balanced ---------------------------------------------------------


def test_a_wallet_posting_needs_a_customer_and_a_system_posting_none() -> None:
    with pytest.raises(ValueError, match="customer"):
        Posting(Account.WALLET_PAID, 100, "EUR")
    with pytest.raises(ValueError, match="customer"):
        Posting(Account.SPENDING, 100, "EUR", CUSTOMER_ID)


def test_only_the_two_wallet_accounts_belong_to_a_customer() -> None:
    assert {a for a in Account if a.is_wallet} == {Account.WALLET_PAID, Account.WALLET_BONUS}


def test_a_reversed_posting_undoes_the_original() -> None:
    posting = Posting(Account.WALLET_BONUS, 500, "EUR", CUSTOMER_ID)
    assert posting.reversed() == Posting(Account.WALLET_BONUS, -500, "EUR", CUSTOMER_ID)
    assert posting.reversed().reversed() == posting


def test_balanced_postings_pass_in_every_currency() -> None:
    check_balanced([])
    check_balanced(
        [
            Posting(Account.VOUCHER_FLOAT, -1000, "EUR"),
            Posting(Account.WALLET_PAID, 1000, "EUR", 1),
            Posting(Account.VOUCHER_FLOAT, -5, "JPY"),
            Posting(Account.WALLET_PAID, 5, "JPY", 1),
        ]
    )


def test_unbalanced_postings_are_refused_naming_the_currency_and_the_difference() -> None:
    with pytest.raises(ValueError, match=r"does not balance: \{'EUR': 1\}"):
        check_balanced(
            [
                Posting(Account.VOUCHER_FLOAT, -999, "EUR"),
                Posting(Account.WALLET_PAID, 1000, "EUR", 1),
            ]
        )


def test_postings_that_balance_only_across_currencies_are_refused() -> None:
    with pytest.raises(ValueError, match=r"EUR.*JPY"):
        check_balanced(
            [
                Posting(Account.VOUCHER_FLOAT, -1000, "EUR"),
                Posting(Account.WALLET_PAID, 1000, "JPY", 1),
            ]
        )
