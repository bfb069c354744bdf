"""Use cases of the customer portal: signing a customer in (with the password staff set, or
with a link signed by the host platform), minting such links, a customer's own redemption,
and what the portal shows.

Signing in returns a customer ``Principal`` (role ``customer``, confined to its own
account); the entry point turns it into a session. Password sign-in takes the same path
whatever goes wrong, as staff sign-in does (``vouchers.services.access``): an unknown
reference, a customer without a password and a blocked customer cost one Argon2 hash each
and raise the same AuthenticationError. A signed link is checked by
``vouchers.domain.portal`` and then claimed in storage, so it signs in once.

A customer is not a payment provider: a top-up amount typed by a customer would be credited
to the paid balance as if it had been paid. So customers declare top-ups only where the
operator turned the ``portal_topups`` setting on (a payment step in front of the portal);
otherwise a bonus voucher that needs a top-up is redeemed by the host platform, which took
the payment, through the API with its key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from vouchers.domain.access import MAX_PASSWORD, Principal, PrincipalKind, Role
from vouchers.domain.customers import Customer, CustomerStatus
from vouchers.domain.ledger import Wallet
from vouchers.domain.portal import (
    BAD_LINK,
    DEFAULT_LINK_MINUTES,
    MAX_LINK_SECONDS,
    SignedLink,
    check_link,
    sign_link,
)
from vouchers.domain.redemptions import Redemption
from vouchers.domain.settings import OperatorSettings
from vouchers.errors import (
    AuthenticationError,
    PermissionDeniedError,
    RedemptionNotFoundError,
    ValidationError,
)
from vouchers.services.codebook import CodeBook
from vouchers.services.ports import Clock, CodeVault, PasswordHasher, UnitOfWork
from vouchers.services.redemptions import RedemptionRequest, RedemptionResult, redeem_voucher

BAD_LOGIN = "invalid account number or password"
HISTORY_LIMIT = 50


def customer_principal(customer: Customer) -> Principal:
    """The customer as the one who acts in the portal: confined to its own account."""
    return Principal(
        customer.external_ref,
        PrincipalKind.CUSTOMER,
        frozenset({Role.CUSTOMER}),
        customer.require_id(),
    )


def sign_in_with_password(
    ref: str, password: str, *, uow: UnitOfWork, passwords: PasswordHasher, clock: Clock
) -> Principal:
    """The principal of an active customer whose portal password matches.

    Raises AuthenticationError, with one message, for an unknown reference, a customer
    without a password, a blocked customer and a wrong password alike. A right password
    under an outdated hash is re-hashed with the current parameters.
    """
    if len(password) > MAX_PASSWORD:  # refused before any work
        raise AuthenticationError(BAD_LOGIN)
    with uow:
        customer = uow.customers.find(ref.strip())
        stored = None if customer is None else uow.customers.password_hash(customer.require_id())
        if customer is None or stored is None:
            passwords.hash(password)  # the same work as a verification
            raise AuthenticationError(BAD_LOGIN)
        if not passwords.verify(stored, password) or customer.status is CustomerStatus.BLOCKED:
            raise AuthenticationError(BAD_LOGIN)
        if passwords.needs_rehash(stored):
            uow.customers.set_password_hash(
                customer.require_id(), passwords.hash(password), at=clock(), by="rehash"
            )
            uow.commit()
    return customer_principal(customer)


def sign_in_with_link(
    customer_ref: str,
    expires: str,
    signature: str,
    *,
    keys: Sequence[str],
    uow: UnitOfWork,
    clock: Clock,
) -> Principal:
    """The principal a signed link names, once: the link is remembered until it expires.

    Raises AuthenticationError for a malformed, tampered, expired or already used link,
    for a link naming an unknown customer and for a blocked customer (only a real link
    gets past the signature, so the messages may be specific: they help the host
    platform's developers).
    """
    now = clock()
    link = check_link(keys, customer_ref, expires, signature, now=now)
    with uow:
        customer = uow.customers.find(link.customer_ref)
        if customer is None:
            raise AuthenticationError(f"{BAD_LINK}: no customer {link.customer_ref}")
        if customer.status is CustomerStatus.BLOCKED:
            raise AuthenticationError(f"{BAD_LINK}: customer {link.customer_ref} is blocked")
        claimed = uow.customers.claim_link(
            link.use_digest,
            customer_id=customer.require_id(),
            at=now,
            expires_at=datetime.fromtimestamp(link.expires, UTC),
        )
        if not claimed:
            raise AuthenticationError(f"{BAD_LINK}: it was used already")
        uow.commit()
    return customer_principal(customer)


def make_sign_in_link(
    ref: str,
    *,
    keys: Sequence[str],
    uow: UnitOfWork,
    clock: Clock,
    minutes: int = DEFAULT_LINK_MINUTES,
) -> SignedLink:
    """A link that signs customer ``ref`` in to the portal once within ``minutes``.

    What a host platform does with the shared secret, for operators and tests. Raises
    ValidationError without a configured secret or for a lifetime outside 1-60 minutes,
    CustomerNotFoundError.
    """
    if not keys:
        raise ValidationError(
            "no portal link secret: set VOUCHERS_PORTAL_LINK_KEYS (see docs/portal.md)"
        )
    if not 0 < minutes * 60 <= MAX_LINK_SECONDS:
        raise ValidationError(f"a link lives 1-{MAX_LINK_SECONDS // 60} minutes")
    with uow:
        customer = uow.customers.get(ref.strip())
    expires = int(clock().timestamp()) + minutes * 60
    return sign_link(keys[0], customer.external_ref, expires)


TOPUPS_OFF = "top-up amounts are not taken here: top up with your provider, who applies the voucher"


def customers_may_top_up(*, uow: UnitOfWork) -> bool:
    """Whether customers may declare a paid top-up themselves (the ``portal_topups``
    setting, off by default)."""
    with uow:
        return OperatorSettings.from_stored(uow.settings.all()).switch("portal_topups")


def check_customer_request(request: RedemptionRequest, *, uow: UnitOfWork) -> None:
    """Refuse a customer's redemption that declares a payment (a top-up amount or a
    payment reference) unless ``portal_topups`` is on; raises PermissionDeniedError."""
    declares = request.amount is not None or request.payment_reference is not None
    if declares and not customers_may_top_up(uow=uow):
        raise PermissionDeniedError(TOPUPS_OFF)


def redeem_in_portal(
    request: RedemptionRequest,
    *,
    uow: UnitOfWork,
    vault: CodeVault,
    clock: Clock,
    actor: str,
    codebook: CodeBook | None = None,
) -> RedemptionResult:
    """A customer's own redemption: ``redeem_voucher`` once ``check_customer_request``
    passed. Raises what both raise."""
    check_customer_request(request, uow=uow)
    return redeem_voucher(
        request, uow=uow, vault=vault, clock=clock, actor=actor, codebook=codebook
    )


@dataclass(frozen=True)
class PortalAccount:
    """What the portal's home page shows: the customer, balances, recent redemptions, and
    whether the "Use voucher" form takes a top-up amount."""

    customer: Customer
    wallets: list[Wallet]
    redemptions: list[Redemption]
    topups: bool = False


def portal_account(
    customer_id: int, *, uow: UnitOfWork, limit: int = HISTORY_LIMIT
) -> PortalAccount:
    """A customer's balances per currency (an empty one in the default currency when it
    never held any, so a new customer sees a balance of 0) and redemptions, newest first.

    Raises CustomerNotFoundError.
    """
    with uow:
        customer = uow.customers.get(customer_id)
        wallets = uow.ledger.wallets(customer_id)
        settings = OperatorSettings.from_stored(uow.settings.all())
        if not wallets:
            wallets = [Wallet(customer_id, settings.text("default_currency") or "EUR")]
        return PortalAccount(
            customer,
            wallets,
            uow.redemptions.for_customer(customer_id, limit=limit),
            topups=settings.switch("portal_topups"),
        )


def own_redemption(customer_id: int, redemption_id: int, *, uow: UnitOfWork) -> Redemption:
    """One of the customer's own redemptions; RedemptionNotFoundError for any other."""
    with uow:
        redemption = uow.redemptions.get(redemption_id)
    if redemption.customer_id != customer_id:
        raise RedemptionNotFoundError(f"no redemption {redemption_id}")
    return redemption
