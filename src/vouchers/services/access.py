"""Use cases for staff users and API keys: create, list, change passwords, revoke, and turn
credentials into a ``Principal`` (authentication). What a principal may then do is
``vouchers.domain.access.authorize``.

Passwords are hashed with Argon2 (the ``PasswordHasher`` port): slow on purpose, because
people choose guessable passwords and a stolen table must not give them away cheaply.

API keys are different: their secret is 256 bits from ``secrets``, so nobody can guess it
and a slow hash would protect nothing; it would only cost every API request tens of
milliseconds and make a busy host platform a CPU problem. Their secrets are stored as one
SHA-256 digest, which cannot be reversed for a 256-bit input, and compared with
``hmac.compare_digest`` so the comparison takes the same time wherever the first wrong
byte is.

Sign-ins to the console and the portal are sessions: rows found by the digest of a random
id that only the signed cookie carries. Signing out ends one; a new password or a
deactivation ends every session of that user; and each request reads the user's roles as
they are now.

Signing in takes the same path whatever goes wrong: an unknown username still costs one
Argon2 hash, an unknown key id still one digest comparison, and every failure of one kind
of credential raises the same AuthenticationError, so neither timing nor message tells an
attacker which usernames or keys exist. Creating, changing and revoking credentials goes to
the outbox (``user.created``, ``user.password_changed``, ``api_key.created``,
``api_key.revoked``), never with a secret in it.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from vouchers.domain.access import (
    CONFINABLE_ROLES,
    MAX_PASSWORD,
    ApiKey,
    Principal,
    PrincipalKind,
    Role,
    Session,
    StaffUser,
    check_password,
    format_api_key,
    parse_api_key,
    parse_roles,
    secret_digest,
    session_digest,
)
from vouchers.domain.customers import CustomerStatus
from vouchers.errors import AuthenticationError, ValidationError
from vouchers.services.ports import Clock, PasswordHasher, UnitOfWork

BAD_LOGIN = "invalid username or password"
BAD_KEY = "invalid API key"
# Compared against when a key id is unknown, so that path does the same work.
_NO_DIGEST = bytes(32)
SESSION_RETENTION = timedelta(days=1)  # expired sessions are kept this long, then pruned


@dataclass(frozen=True)
class IssuedApiKey:
    """A new API key: the stored record and the key itself, which is never seen again."""

    key: str = dataclasses.field(repr=False)
    api_key: ApiKey


def create_user(
    username: str,
    password: str,
    *,
    roles: Iterable[str],
    uow: UnitOfWork,
    passwords: PasswordHasher,
    clock: Clock,
    actor: str,
    display_name: str = "",
) -> StaffUser:
    """Store a new, active staff user; raises ValidationError or DuplicateError."""
    check_password(password)
    roles_ = parse_roles(roles, kind=PrincipalKind.STAFF)
    now = clock()
    user = StaffUser(
        username=_username(username),
        roles=roles_,
        password_hash=passwords.hash(password),
        display_name=display_name.strip(),
        created_at=now,
        created_by=actor,
        password_changed_at=now,
    )
    with uow:
        stored = uow.users.add(user)
        uow.events.add(
            "user.created",
            {"username": stored.username, "roles": _names(stored.roles), "by": actor},
            at=now,
        )
        uow.commit()
    return stored


def set_password(
    username: str,
    password: str,
    *,
    uow: UnitOfWork,
    passwords: PasswordHasher,
    clock: Clock,
    actor: str,
) -> None:
    """Replace a user's password; raises ValidationError or UserNotFoundError."""
    check_password(password)
    new_hash = passwords.hash(password)
    now = clock()
    with uow:
        user = uow.users.get(_username(username))
        uow.users.update(dataclasses.replace(user, password_hash=new_hash, password_changed_at=now))
        uow.sessions.revoke_all(PrincipalKind.STAFF, user.username, at=now)  # signed out everywhere
        uow.events.add("user.password_changed", {"username": user.username, "by": actor}, at=now)
        uow.commit()


def set_user_active(
    username: str, active: bool, *, uow: UnitOfWork, clock: Clock, actor: str
) -> StaffUser:
    """Let a user sign in again, or stop them; raises UserNotFoundError."""
    with uow:
        user = dataclasses.replace(uow.users.get(_username(username)), active=active)
        uow.users.update(user)
        if not active:
            uow.sessions.revoke_all(PrincipalKind.STAFF, user.username, at=clock())
        event = "user.activated" if active else "user.deactivated"
        uow.events.add(event, {"username": user.username, "by": actor}, at=clock())
        uow.commit()
    return user


def verify_password(
    username: str, password: str, *, uow: UnitOfWork, passwords: PasswordHasher
) -> Principal:
    """The principal of an active user whose password matches.

    Raises AuthenticationError, with one message, for an unknown or inactive user and a
    wrong password alike; an unknown user costs one hash too. A right password under an
    outdated hash is re-hashed with the current parameters.
    """
    if len(password) > MAX_PASSWORD:  # refused before any work, whoever the user is
        raise AuthenticationError(BAD_LOGIN)
    with uow:
        user = uow.users.find(_username(username))
        if user is None:
            passwords.hash(password)  # the same work as a verification
            raise AuthenticationError(BAD_LOGIN)
        if not passwords.verify(user.password_hash, password) or not user.active:
            raise AuthenticationError(BAD_LOGIN)
        if passwords.needs_rehash(user.password_hash):
            uow.users.update(dataclasses.replace(user, password_hash=passwords.hash(password)))
            uow.commit()
    return user.principal()


def list_users(*, uow: UnitOfWork) -> list[StaffUser]:
    """Every staff user in username order (hashes included: entry points must not show them)."""
    with uow:
        return uow.users.list()


def create_api_key(
    name: str,
    *,
    roles: Iterable[str],
    uow: UnitOfWork,
    clock: Clock,
    actor: str,
    customer_ref: str | None = None,
) -> IssuedApiKey:
    """Make a key, store its digest, and return the key (to be shown once) with its record.

    A key confined to a customer may act only on that customer, so it holds only the
    integration role (a staff role acts on everyone). Raises ValidationError,
    CustomerNotFoundError or DuplicateError.
    """
    key_id, secret = secrets.token_hex(8), secrets.token_hex(32)
    parsed = parse_roles(roles, kind=PrincipalKind.API_KEY)
    if customer_ref is not None and not parsed <= CONFINABLE_ROLES:
        refused = ", ".join(sorted(parsed - CONFINABLE_ROLES))
        raise ValidationError(f"a key confined to a customer cannot hold the role {refused}")
    now = clock()
    with uow:
        customer = uow.customers.get(customer_ref.strip()) if customer_ref is not None else None
        api_key = ApiKey(
            name=name.strip(),
            key_id=key_id,
            roles=parsed,
            secret_digest=secret_digest(secret),
            customer_id=customer.require_id() if customer else None,
            created_at=now,
            created_by=actor,
        )
        stored = uow.api_keys.add(api_key)
        uow.events.add(
            "api_key.created",
            {
                "name": stored.name,
                "key_id": key_id,
                "roles": _names(stored.roles),
                "customer": customer.external_ref if customer else None,
                "by": actor,
            },
            at=now,
        )
        uow.commit()
    return IssuedApiKey(format_api_key(key_id, secret), stored)


def revoke_api_key(name: str, *, uow: UnitOfWork, clock: Clock, actor: str) -> ApiKey:
    """Refuse the key from now on; revoking a revoked key changes nothing.

    Raises ApiKeyNotFoundError.
    """
    now = clock()
    with uow:
        if uow.api_keys.revoke(name.strip(), at=now, by=actor):
            uow.events.add("api_key.revoked", {"name": name.strip(), "by": actor}, at=now)
            uow.commit()
        return uow.api_keys.get(name.strip())


def authenticate_api_key(key: str, *, uow: UnitOfWork) -> Principal:
    """The principal of a presented key; raises AuthenticationError, with one message, for
    a malformed, unknown or revoked key."""
    key_id, secret = parse_api_key(key)
    with uow:
        found = uow.api_keys.find(key_id)
    return _principal_of_key(found, secret)


def _principal_of_key(found: ApiKey | None, secret: str) -> Principal:
    matches = hmac.compare_digest(
        found.secret_digest if found else _NO_DIGEST, secret_digest(secret)
    )
    if found is None or not matches or found.revoked:
        raise AuthenticationError(BAD_KEY)
    return found.principal()


class KeyAuthenticator:
    """``authenticate_api_key`` for a server process, remembering each key's row for
    ``ttl`` seconds so a busy host platform's requests do not each open a transaction to
    read it. The secret is still checked on every request; only rows of existing keys are
    remembered (at most ``capacity``), so made-up key ids cannot fill the memory. The
    price: a key revoked elsewhere keeps working in this process for up to ``ttl`` seconds.
    """

    def __init__(
        self,
        new_uow: Callable[[], UnitOfWork],
        *,
        ttl: float = 5.0,
        capacity: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.new_uow = new_uow
        self.ttl = ttl
        self.capacity = capacity
        self.monotonic = monotonic
        self._rows: dict[str, tuple[float, ApiKey]] = {}

    def remembered(self, key: str) -> Principal | None:
        """The principal of ``key`` if its row is remembered (no database), else None;
        AuthenticationError for a malformed key or a wrong secret."""
        key_id, secret = parse_api_key(key)
        remembered = self._rows.get(key_id)
        if remembered is None or self.monotonic() - remembered[0] >= self.ttl:
            return None
        return _principal_of_key(remembered[1], secret)

    def __call__(self, key: str) -> Principal:
        """The principal of ``key``; AuthenticationError as ``authenticate_api_key``."""
        key_id, secret = parse_api_key(key)
        principal = self.remembered(key)
        if principal is not None:
            return principal
        now = self.monotonic()
        with self.new_uow() as uow:
            found = uow.api_keys.find(key_id)
        if found is None:
            self._rows.pop(key_id, None)
        else:
            if len(self._rows) >= self.capacity:
                self._rows.clear()
            self._rows[key_id] = (now, found)
        return _principal_of_key(found, secret)

    def forget(self, key_id: str) -> None:
        """Drop a remembered row (this process revoked the key)."""
        self._rows.pop(key_id, None)


def open_session(
    principal: Principal, *, uow: UnitOfWork, clock: Clock, lifetime: timedelta
) -> tuple[str, Session]:
    """A new sign-in for a staff user or a portal customer: its random id (which only the
    signed cookie carries) and the stored record. Sessions that expired a day ago go."""
    if principal.kind not in (PrincipalKind.STAFF, PrincipalKind.CUSTOMER):
        raise ValidationError(f"no sessions for {principal.kind.value} principals")
    session_id = secrets.token_urlsafe(32)
    now = clock()
    session = Session(
        id_digest=session_digest(session_id),
        kind=principal.kind,
        name=principal.name,
        customer_id=principal.customer_id,
        created_at=now,
        expires_at=now + lifetime,
    )
    with uow:
        uow.sessions.prune(before=now - SESSION_RETENTION)
        uow.sessions.add(session)
        uow.commit()
    return session_id, session


def session_principal(session_id: str, *, uow: UnitOfWork, clock: Clock) -> Principal | None:
    """Who a live session acts as now: a staff user with the roles they hold today (None
    once deactivated), or the portal customer. None for an unknown, ended or expired
    session."""
    now = clock()
    with uow:
        session = uow.sessions.find(session_digest(session_id))
        if session is None or not session.live(now):
            return None
        if session.kind is PrincipalKind.STAFF:
            user = uow.users.find(session.name)
            return user.principal() if user is not None and user.active else None
        customer = uow.customers.find(session.name)
        if (
            customer is None
            or customer.id != session.customer_id
            or customer.status is not CustomerStatus.ACTIVE
        ):
            return None  # a blocked customer is signed out
    return Principal(
        session.name, PrincipalKind.CUSTOMER, frozenset({Role.CUSTOMER}), session.customer_id
    )


def close_session(session_id: str, *, uow: UnitOfWork, clock: Clock) -> None:
    """End a session (signing out); ending an unknown or ended one changes nothing."""
    with uow:
        uow.sessions.revoke(session_digest(session_id), at=clock())
        uow.commit()


def list_api_keys(*, uow: UnitOfWork) -> list[ApiKey]:
    """Every API key, revoked ones too, in name order (digests only: no secret exists)."""
    with uow:
        return uow.api_keys.list()


def _username(username: str) -> str:
    return username.strip().lower()


def _names(roles: Iterable[str]) -> list[str]:
    return sorted(str(role) for role in roles)
