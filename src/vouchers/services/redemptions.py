"""Redeeming a voucher: the use case every way in calls (CLI, API, portal, RADIUS).

``redeem_voucher`` is one transaction. In order: an idempotency key already answered
replays its first result; a locked-out customer, caller or address is refused before the
code is even parsed; a code no format accepts is a typo (counted leniently, the voucher
table untouched); a well-formed code that finds no voucher is a guess (counted strictly);
then the voucher's state and the type's rules are checked (vouchers.domain.redemptions),
and the voucher is consumed by one conditional update together with the redemption, its
journal entry, the wallet balances, the history row and the events. Any refusal leaves
nothing behind but the failure count.

``validate_redemption`` runs the same checks and returns what would be credited, moving
nothing. Reversal is in ``vouchers.services.reversals``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from vouchers.domain.attempts import AttemptKind, Scope, Subject
from vouchers.domain.customers import Customer
from vouchers.domain.ledger import EntryKind
from vouchers.domain.money import Money, currency, format_minor
from vouchers.domain.redemptions import (
    Channel,
    Claim,
    Credit,
    Redemption,
    RedemptionFacts,
    assess,
    check_voucher_state,
)
from vouchers.domain.settings import OperatorSettings
from vouchers.domain.voucher_types import PerCustomer, VoucherType
from vouchers.domain.vouchers import Voucher, VoucherState
from vouchers.errors import (
    CustomerNotFoundError,
    DuplicateError,
    IdempotencyKeyReusedError,
    MalformedCodeError,
    ValidationError,
    VoucherUnknownError,
    VoucherUsedError,
)
from vouchers.services.attempts import (
    check_lockouts,
    record_failure,
    refuse_if_locked,
    subjects_for,
)
from vouchers.services.codebook import CodeBook, digests_for
from vouchers.services.ports import (
    Clock,
    CodeVault,
    HistoryEntry,
    JournalEntry,
    RedemptionContext,
    StoredResult,
    UnitOfWork,
)

OPERATION = "redeem"
MAX_IDEMPOTENCY_KEY = 100


@dataclass(frozen=True)
class RedemptionRequest:
    """A redemption as asked for; only ``code`` and ``customer`` are required.

    ``amount`` is the paid top-up for bonus vouchers (major units, in ``currency`` or the
    voucher's); ``caller`` names the API key or session, for counters and idempotency keys.
    """

    code: str
    customer: str
    amount: str | None = None
    currency: str | None = None
    payment_reference: str | None = None
    product: str | None = None
    purchase_reference: str | None = None
    channel: Channel = Channel.API
    client_address: str | None = None
    caller: str | None = None
    idempotency_key: str | None = None
    create_customer: bool = False

    def fingerprint(self) -> str:
        """A digest of what the request asks for, to tell a replay from a reused key."""
        asked = {
            "code": self.code.strip().upper(),
            "customer": self.customer,
            "amount": _canonical_amount(self.amount),
            "currency": self.currency and self.currency.upper(),
            "payment_reference": self.payment_reference,
            "product": self.product,
            "purchase_reference": self.purchase_reference,
        }
        return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()


def _canonical_amount(amount: str | None) -> str | None:
    """``100``, ``100.0`` and ``100.00`` ask for the same top-up."""
    if amount is None:
        return None
    try:
        value = Decimal(amount.strip())
    except InvalidOperation:
        return amount
    return format(value.normalize(), "f") if value.is_finite() else amount


@dataclass(frozen=True)
class RedemptionResult:
    """What a redemption did (or, for a validation, would do), as plain values."""

    voucher_number: int
    customer: str
    currency: str
    value_minor: int
    topup_minor: int
    bonus_minor: int
    paid_minor: int
    payment_minor: int
    product: str | None
    purchase_reference: str | None
    payment_type: str
    channel: str
    redemption_id: int | None = None
    redeemed_at: str | None = None
    balance_paid_minor: int | None = None
    balance_bonus_minor: int | None = None
    replayed: bool = False
    events: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def money(self, minor: int) -> str:
        """An amount of this result's currency, formatted (``"12.50 EUR"``)."""
        return format_minor(minor, self.currency)


def redeem_voucher(
    request: RedemptionRequest,
    *,
    uow: UnitOfWork,
    vault: CodeVault,
    clock: Clock,
    actor: str,
    codebook: CodeBook | None = None,
) -> RedemptionResult:
    """Redeem a code for a customer; see the module docstring.

    Raises TooManyAttemptsError, MalformedCodeError (a typo), a VoucherUnavailableError
    (unknown, used, cancelled, expired, not yet effective, not active), a
    RedemptionRefusedError (a rule), CustomerNotFoundError, IdempotencyKeyReusedError, or
    ValidationError for a bad request. Nothing moves unless it returns.
    """
    return _run(
        request, uow=uow, vault=vault, clock=clock, actor=actor, codebook=codebook, dry_run=False
    )


def validate_redemption(
    request: RedemptionRequest,
    *,
    uow: UnitOfWork,
    vault: CodeVault,
    clock: Clock,
    actor: str,
    codebook: CodeBook | None = None,
) -> RedemptionResult:
    """The same checks as ``redeem_voucher`` and what it would credit; nothing moves.

    Failed codes count towards lock-outs here too, or validation would be a free oracle.
    """
    return _run(
        request, uow=uow, vault=vault, clock=clock, actor=actor, codebook=codebook, dry_run=True
    )


def _run(
    request: RedemptionRequest,
    *,
    uow: UnitOfWork,
    vault: CodeVault,
    clock: Clock,
    actor: str,
    codebook: CodeBook | None,
    dry_run: bool,
) -> RedemptionResult:
    _check_request(request)
    subjects = subjects_for(request.customer, request.caller, request.client_address)
    try:
        for attempt in range(2):
            try:
                return _attempt(
                    request, subjects, uow, vault, clock, actor, codebook or CodeBook(), dry_run
                )
            except DuplicateError:
                if attempt:
                    raise
                # A concurrent request committed the same idempotency key (replay it now)
                # or created the same new customer (use it now): one more go.
        raise AssertionError("unreachable")
    except MalformedCodeError:
        record_failure(AttemptKind.TYPO, subjects, uow=uow, clock=clock)
        raise
    except VoucherUnknownError:
        record_failure(AttemptKind.GUESS, subjects, uow=uow, clock=clock)
        raise


def _check_request(request: RedemptionRequest) -> None:
    if not request.code.strip():
        raise ValidationError("type the voucher code")
    if not request.customer.strip():
        raise ValidationError("say which customer redeems (their external reference)")
    key = request.idempotency_key
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise ValidationError(f"an idempotency key has 1-{MAX_IDEMPOTENCY_KEY} characters")


def _attempt(
    request: RedemptionRequest,
    subjects: list[Subject],
    uow: UnitOfWork,
    vault: CodeVault,
    clock: Clock,
    actor: str,
    codebook: CodeBook,
    dry_run: bool,
) -> RedemptionResult:
    now = clock()
    caller = request.caller or actor
    key = None if dry_run else request.idempotency_key
    with uow:
        candidates = _candidates(request.code, uow, codebook, subjects, now)
        context = _context(request, uow, vault, candidates, subjects, now, caller, key)
        if context.stored_result is not None:
            return _replayed(context.stored_result, request)
        check_lockouts(context.lockouts, now)
        if context.voucher is None or context.voucher_type is None:
            context = _after_reload(request, uow, vault, codebook, context)
        try:
            return _redeem(request, context, uow, now, actor, caller, dry_run)
        except VoucherUsedError:
            # Perhaps used by this very request under the same key, committed meanwhile by a
            # concurrent retry: then the answer is that request's (visible now).
            replay = _replay(uow, caller, request) if key is not None else None
            if replay is None:
                raise
            return replay


def _candidates(
    code: str, uow: UnitOfWork, codebook: CodeBook, subjects: list[Subject], now: datetime
) -> list[str]:
    """The canonical forms of the typed code; a typo is refused without the voucher table
    (but a locked-out subject hears that it is locked out, not that it mistyped)."""
    try:
        return codebook.candidates(code, uow)
    except MalformedCodeError:
        try:
            return codebook.candidates(code, uow, reload=True)  # a format new since cached
        except MalformedCodeError:
            refuse_if_locked(uow, subjects, now)
            raise


def _context(
    request: RedemptionRequest,
    uow: UnitOfWork,
    vault: CodeVault,
    candidates: list[str],
    subjects: list[Subject],
    now: datetime,
    caller: str,
    key: str | None,
) -> RedemptionContext:
    return uow.redemptions.context(
        digests=digests_for(candidates, vault),
        customer_ref=request.customer.strip(),
        subjects=[s for s in subjects if s.scope is not Scope.GLOBAL],
        now=now,
        idempotency=None if key is None else (caller, key),
    )


def _after_reload(
    request: RedemptionRequest,
    uow: UnitOfWork,
    vault: CodeVault,
    codebook: CodeBook,
    context: RedemptionContext,
) -> RedemptionContext:
    """No voucher had the code under the cached formats: look again under fresh ones (a lot
    with a new prefix may have been generated since), else it is a guess."""
    before = codebook.formats(uow)
    if codebook.formats(uow, reload=True) != before:
        try:
            candidates = codebook.candidates(request.code, uow)
        except MalformedCodeError:
            candidates = []
        voucher = uow.vouchers.find_by_digests(digests_for(candidates, vault))
        if voucher is not None:
            voucher_type = uow.voucher_types.get(voucher.type_id)
            return dataclasses.replace(context, voucher=voucher, voucher_type=voucher_type)
    raise VoucherUnknownError("no voucher has that code")


def _redeem(
    request: RedemptionRequest,
    context: RedemptionContext,
    uow: UnitOfWork,
    now: datetime,
    actor: str,
    caller: str,
    dry_run: bool,
) -> RedemptionResult:
    voucher, voucher_type = context.voucher, context.voucher_type
    assert voucher is not None
    assert voucher_type is not None
    settings = OperatorSettings.from_stored(context.settings)
    customer = _customer(uow, request, context.customer, now, actor, create=not dry_run)
    facts = _facts(uow, request, voucher, voucher_type, customer, settings, now)
    credit = assess(facts)
    result = _result(request, voucher, voucher_type, customer, credit)
    if dry_run:
        return result
    redemption = Redemption(
        voucher_number=voucher.number,
        customer_id=customer.require_id(),
        type_id=voucher.type_id,
        lot_id=voucher.lot_id,
        channel=request.channel,
        credit=credit,
        payment_type=voucher_type.default_payment_type,
        redeemed_at=now,
        redeemed_by=actor,
        product=request.product,
        purchase_reference=request.purchase_reference,
        payment_reference=request.payment_reference,
        client_address=request.client_address,
        caller=request.caller,
        idempotency_key=request.idempotency_key,
    )
    events = _events(result, settings)
    recorded = uow.redemptions.record(
        redemption,
        JournalEntry(
            kind=EntryKind.REDEMPTION,
            postings=tuple(credit.postings(customer.require_id())),
            at=now,
            by=actor,
            memo=f"voucher {voucher.number}",
            reference=request.payment_reference or request.purchase_reference,
        ),
        HistoryEntry(
            voucher_number=voucher.number,
            field="state",
            process="redeem",
            from_value=VoucherState.ACTIVATED.value,
            to_value=VoucherState.USED.value,
            at=now,
            by=actor,
            note=f"customer {customer.external_ref} via {request.channel.value}",
        ),
        events=events,
    )
    if recorded is None:
        # Lost the race: another transaction consumed it first. Say what it is now.
        check_voucher_state(uow.vouchers.get(voucher.number), now)
        raise AssertionError("a voucher that could not be consumed is still redeemable")
    result = dataclasses.replace(
        result,
        redemption_id=recorded.redemption.id,
        redeemed_at=now.isoformat(),
        balance_paid_minor=recorded.balance_paid_minor,
        balance_bonus_minor=recorded.balance_bonus_minor,
        events=[event_type for event_type, _ in events],
    )
    if request.idempotency_key is not None:
        uow.idempotency.add(caller, request.idempotency_key, _stored(request, result), at=now)
    uow.commit()
    return result


def _replay(uow: UnitOfWork, caller: str, request: RedemptionRequest) -> RedemptionResult | None:
    assert request.idempotency_key is not None
    stored = uow.idempotency.get(caller, request.idempotency_key)
    return None if stored is None else _replayed(stored, request)


def _replayed(stored: StoredResult, request: RedemptionRequest) -> RedemptionResult:
    """The first answer under this key, or IdempotencyKeyReusedError for another request."""
    if stored.operation != OPERATION or stored.request_hash != request.fingerprint():
        raise IdempotencyKeyReusedError(
            f"idempotency key {request.idempotency_key!r} was used for a different request"
        )
    return RedemptionResult(**{**stored.result, "replayed": True})


def _stored(request: RedemptionRequest, result: RedemptionResult) -> StoredResult:
    return StoredResult(OPERATION, request.fingerprint(), result.as_dict())


def _customer(
    uow: UnitOfWork,
    request: RedemptionRequest,
    found: Customer | None,
    now: datetime,
    actor: str,
    *,
    create: bool,
) -> Customer:
    ref = request.customer.strip()
    if found is not None:
        return found
    if not request.create_customer:
        raise CustomerNotFoundError(f"no customer {ref!r}")
    customer = Customer(external_ref=ref, created_at=now, created_by=actor)
    if not create:
        return customer
    return uow.customers.add(customer)


def _facts(
    uow: UnitOfWork,
    request: RedemptionRequest,
    voucher: Voucher,
    voucher_type: VoucherType,
    customer: Customer,
    settings: OperatorSettings,
    now: Any,
) -> RedemptionFacts:
    claim = Claim(
        topup_minor=_topup(request, voucher),
        currency=request.currency,
        product=request.product,
        purchase_reference=request.purchase_reference,
        payment_reference=request.payment_reference,
    )
    earlier, topped_up = 0, False
    rules = voucher_type.rules
    if customer.id is not None and (
        rules.per_customer is not PerCustomer.UNLIMITED or rules.first_topup_only
    ):
        # Two concurrent redemptions by one customer must not both pass "once per type"
        # or "first top-up only": hold the customer's row while counting.
        uow.customers.lock(customer.id)
        scope = voucher_type.rules.per_customer
        if scope is not PerCustomer.UNLIMITED:
            earlier = uow.redemptions.count_for(
                customer.id,
                type_id=voucher.type_id if scope is PerCustomer.ONCE_PER_TYPE else None,
                lot_id=voucher.lot_id if scope is PerCustomer.ONCE_PER_LOT else None,
            )
        if voucher_type.rules.first_topup_only:
            topped_up = uow.redemptions.has_completed(customer.id)
    return RedemptionFacts(
        voucher=voucher,
        voucher_type=voucher_type,
        customer=customer,
        claim=claim,
        now=now,
        limits=settings.limits(voucher.currency),
        earlier_redemptions=earlier,
        has_topped_up=topped_up,
    )


def _topup(request: RedemptionRequest, voucher: Voucher) -> int | None:
    if request.amount is None:
        return None
    unit = currency(request.currency or voucher.currency)
    if unit.code != voucher.currency:
        return None  # the currency rule refuses it, naming both currencies
    return Money.of(request.amount, unit).minor


def _result(
    request: RedemptionRequest,
    voucher: Voucher,
    voucher_type: VoucherType,
    customer: Customer,
    credit: Credit,
) -> RedemptionResult:
    return RedemptionResult(
        voucher_number=voucher.number,
        customer=customer.external_ref,
        currency=credit.currency,
        value_minor=credit.value_minor,
        topup_minor=credit.topup_minor,
        bonus_minor=credit.bonus_minor,
        paid_minor=credit.paid_minor,
        payment_minor=credit.payment_minor,
        product=request.product,
        purchase_reference=request.purchase_reference,
        payment_type=voucher_type.default_payment_type,
        channel=request.channel.value,
    )


def _events(
    result: RedemptionResult, settings: OperatorSettings
) -> list[tuple[str, dict[str, Any]]]:
    """The events a redemption raises (the adapter adds the redemption id to each)."""
    payload = {
        "voucher_number": result.voucher_number,
        "customer": result.customer,
        "currency": result.currency,
        "paid_minor": result.paid_minor,
        "bonus_minor": result.bonus_minor,
        "payment_minor": result.payment_minor,
        "channel": result.channel,
    }
    events = [("voucher.redeemed", payload)]
    threshold = settings.amount("large_redemption_threshold", result.currency)
    total = result.paid_minor + result.bonus_minor + result.payment_minor
    if threshold is not None and total >= threshold:
        events.append(("redemption.large", payload))
    return events


def get_redemption(redemption_id: int, *, uow: UnitOfWork) -> Redemption:
    """One redemption; raises RedemptionNotFoundError."""
    with uow:
        return uow.redemptions.get(redemption_id)


def customer_redemptions(ref: int | str, *, uow: UnitOfWork, limit: int = 50) -> list[Redemption]:
    """A customer's redemptions, newest first."""
    with uow:
        customer = uow.customers.get(ref)
        return uow.redemptions.for_customer(customer.require_id(), limit=limit)
