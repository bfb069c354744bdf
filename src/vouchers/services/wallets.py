"""Wallet use cases: balances, and debits by the host platform spending a balance.

A debit takes an amount out of one customer's wallet in one currency, bonus balance first
then paid (or the other way round, as the ``debit_order`` setting or the call says), as a
journal entry to the ``spending`` account. The wallet row is locked for the decision, so
concurrent debits are serialised and never take a balance below zero; an idempotency key
makes a retried debit return its first answer.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from vouchers.domain.customers import CustomerStatus
from vouchers.domain.ledger import DebitOrder, EntryKind, debit_postings, split_debit
from vouchers.domain.money import Money, currency
from vouchers.domain.settings import OperatorSettings
from vouchers.errors import (
    CustomerBlockedError,
    DuplicateError,
    IdempotencyKeyReusedError,
    ValidationError,
)
from vouchers.services.ports import Clock, JournalEntry, StoredResult, UnitOfWork

OPERATION = "debit"


@dataclass(frozen=True)
class DebitRequest:
    """Spend ``amount`` (major units) of ``currency`` from a customer's wallet."""

    customer: str
    amount: str
    currency: str
    reference: str | None = None
    order: DebitOrder | None = None  # None: the debit_order setting
    caller: str | None = None
    idempotency_key: str | None = None

    def fingerprint(self) -> str:
        asked = {
            "customer": self.customer,
            "amount": self.amount,
            "currency": self.currency.upper(),
            "reference": self.reference,
            "order": self.order and self.order.value,
        }
        return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class DebitResult:
    entry_id: int
    customer: str
    currency: str
    amount_minor: int
    bonus_minor: int
    paid_minor: int
    balance_paid_minor: int
    balance_bonus_minor: int
    reference: str | None
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def debit_wallet(
    request: DebitRequest, *, uow: UnitOfWork, clock: Clock, actor: str
) -> DebitResult:
    """Take an amount out of a wallet; see the module docstring.

    Raises CustomerNotFoundError, CustomerBlockedError, ValidationError for a bad amount,
    InsufficientFundsError when the wallet holds less, IdempotencyKeyReusedError.
    """
    unit = currency(request.currency)
    amount = Money.of(request.amount, unit).minor
    if amount <= 0:
        raise ValidationError("a debit must be for an amount above zero")
    if request.idempotency_key is not None and not 0 < len(request.idempotency_key) <= 100:
        raise ValidationError("an idempotency key has 1-100 characters")
    caller = request.caller or actor
    for attempt in range(2):
        try:
            return _debit(request, unit.code, amount, caller, uow=uow, clock=clock, actor=actor)
        except DuplicateError:
            if attempt or request.idempotency_key is None:
                raise
    raise AssertionError("unreachable")


def _debit(
    request: DebitRequest,
    code: str,
    amount: int,
    caller: str,
    *,
    uow: UnitOfWork,
    clock: Clock,
    actor: str,
) -> DebitResult:
    now = clock()
    with uow:
        if request.idempotency_key is not None:
            stored = uow.idempotency.get(caller, request.idempotency_key)
            if stored is not None:
                if stored.operation != OPERATION or stored.request_hash != request.fingerprint():
                    raise IdempotencyKeyReusedError(
                        f"idempotency key {request.idempotency_key!r} was used for a "
                        "different request"
                    )
                return DebitResult(**{**stored.result, "replayed": True})
        customer = uow.customers.get(request.customer.strip())
        if customer.status is not CustomerStatus.ACTIVE:
            raise CustomerBlockedError(f"customer {customer.external_ref} is blocked")
        customer_id = customer.require_id()
        order = request.order or OperatorSettings.from_stored(uow.settings.all()).debit_order
        wallet = uow.ledger.wallet(customer_id, code, for_update=True)
        split = split_debit(wallet, amount, order)
        entry_id = uow.ledger.post(
            JournalEntry(
                kind=EntryKind.DEBIT,
                postings=tuple(debit_postings(customer_id, code, split)),
                at=now,
                by=actor,
                reference=request.reference,
            )
        )
        result = DebitResult(
            entry_id=entry_id,
            customer=customer.external_ref,
            currency=code,
            amount_minor=amount,
            bonus_minor=split.bonus_minor,
            paid_minor=split.paid_minor,
            balance_paid_minor=wallet.paid_minor - split.paid_minor,
            balance_bonus_minor=wallet.bonus_minor - split.bonus_minor,
            reference=request.reference,
        )
        if request.idempotency_key is not None:
            uow.idempotency.add(
                caller,
                request.idempotency_key,
                StoredResult(OPERATION, request.fingerprint(), result.as_dict()),
                at=now,
            )
        uow.commit()
        return result
