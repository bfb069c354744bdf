"""The double-entry ledger: wallets, accounts, postings and journal entries.

Every movement of value is one journal entry whose postings sum to zero in each currency.
Amounts are signed minor units from the point of view of what the operator owes:
a positive posting to a wallet account raises what the customer holds, and the matching
negative postings say where the value came from. The accounts are:

====================  =======================================================================
``wallet_paid``       a customer's paid balance in one currency (a liability to the customer)
``wallet_bonus``      a customer's bonus balance (promotional value, spent first by default)
``voucher_float``     the value of vouchers sold but not yet redeemed, drawn down on redemption
``bonus_expense``     promotional value the operator gives away (extra value, top-up bonuses)
``external_payments`` money paid in outside the platform (the top-up a bonus voucher rides on)
``purchase_receivables``  what customers owe for purchases; a voucher payment settles it
``spending``          balance spent at the host platform (wallet debits)
====================  =======================================================================

Wallet balances are kept beside the journal in the same transaction and can always be
re-derived from it: a wallet's paid balance is the sum of its ``wallet_paid`` postings.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from vouchers.domain.money import Money, currency
from vouchers.errors import InsufficientFundsError, ValidationError


class Account(StrEnum):
    """The ledger's accounts; see the module docstring."""

    WALLET_PAID = "wallet_paid"
    WALLET_BONUS = "wallet_bonus"
    VOUCHER_FLOAT = "voucher_float"
    BONUS_EXPENSE = "bonus_expense"
    EXTERNAL_PAYMENTS = "external_payments"
    PURCHASE_RECEIVABLES = "purchase_receivables"
    SPENDING = "spending"

    @property
    def is_wallet(self) -> bool:
        """Whether the account belongs to one customer's wallet."""
        return self in (Account.WALLET_PAID, Account.WALLET_BONUS)


class EntryKind(StrEnum):
    """Why a journal entry was written."""

    REDEMPTION = "redemption"
    REVERSAL = "reversal"
    DEBIT = "debit"


class DebitOrder(StrEnum):
    """Which balance a wallet debit draws on first."""

    BONUS_FIRST = "bonus_first"
    PAID_FIRST = "paid_first"


@dataclass(frozen=True)
class Posting:
    """One line of a journal entry: a signed amount on one account.

    ``customer_id`` names the wallet for wallet accounts and is None for system accounts.
    """

    account: Account
    amount_minor: int
    currency: str
    customer_id: int | None = None

    def __post_init__(self) -> None:
        if self.account.is_wallet != (self.customer_id is not None):
            raise ValueError(f"{self.account} postings need a customer exactly when on a wallet")

    def reversed(self) -> Posting:
        """The posting that undoes this one."""
        return Posting(self.account, -self.amount_minor, self.currency, self.customer_id)


def check_balanced(postings: Iterable[Posting]) -> None:
    """Refuse postings that do not sum to zero in each currency (a programming error)."""
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        totals[posting.currency] += posting.amount_minor
    unbalanced = {code: total for code, total in totals.items() if total}
    if unbalanced:
        raise ValueError(f"journal entry does not balance: {unbalanced}")


@dataclass(frozen=True)
class Wallet:
    """A customer's balances in one currency; both are never negative."""

    customer_id: int
    currency: str
    paid_minor: int = 0
    bonus_minor: int = 0

    @property
    def total_minor(self) -> int:
        """Paid and bonus together: what the customer can spend."""
        return self.paid_minor + self.bonus_minor


@dataclass(frozen=True)
class DebitSplit:
    """How much of a debit comes out of each balance."""

    bonus_minor: int
    paid_minor: int


def split_debit(wallet: Wallet, amount_minor: int, order: DebitOrder) -> DebitSplit:
    """Take ``amount_minor`` out of the wallet, ``order`` saying which balance goes first.

    Raises ValidationError for a non-positive amount, InsufficientFundsError when the
    wallet holds less than the amount in total.
    """
    if amount_minor <= 0:
        raise ValidationError("a debit must be for an amount above zero")
    if amount_minor > wallet.total_minor:
        unit = currency(wallet.currency)
        raise InsufficientFundsError(
            f"the wallet holds {Money(wallet.total_minor, unit).format()}, "
            f"less than {Money(amount_minor, unit).format()}"
        )
    if order is DebitOrder.BONUS_FIRST:
        bonus = min(wallet.bonus_minor, amount_minor)
        return DebitSplit(bonus_minor=bonus, paid_minor=amount_minor - bonus)
    paid = min(wallet.paid_minor, amount_minor)
    return DebitSplit(bonus_minor=amount_minor - paid, paid_minor=paid)


def debit_postings(customer_id: int, currency: str, split: DebitSplit) -> list[Posting]:
    """The postings of a wallet debit: out of the wallet, into spending."""
    postings = []
    if split.bonus_minor:
        postings.append(Posting(Account.WALLET_BONUS, -split.bonus_minor, currency, customer_id))
    if split.paid_minor:
        postings.append(Posting(Account.WALLET_PAID, -split.paid_minor, currency, customer_id))
    postings.append(Posting(Account.SPENDING, split.bonus_minor + split.paid_minor, currency))
    return postings


def wallet_changes(postings: Iterable[Posting]) -> dict[tuple[int, str], tuple[int, int]]:
    """What postings do to each wallet: (customer, currency) → (paid change, bonus change)."""
    changes: dict[tuple[int, str], tuple[int, int]] = {}
    for posting in postings:
        if posting.customer_id is None:
            continue
        key = (posting.customer_id, posting.currency)
        paid, bonus = changes.get(key, (0, 0))
        if posting.account is Account.WALLET_PAID:
            paid += posting.amount_minor
        else:
            bonus += posting.amount_minor
        changes[key] = (paid, bonus)
    return changes
