"""Who may do what: roles, permissions, principals, staff users and API keys.

``ROLE_PERMISSIONS`` is the one table of what each role of DESIGN.md §2 may do, and
``authorize`` the one check every entry point makes before calling a service. A principal
is whoever acts: a staff user (password), an API key (a host platform, possibly scoped to
one customer) or a customer of the portal. A principal scoped to a customer may act only
on that customer: every check it passes must name that customer (``customer_id``), so an
action that names none is refused too (fail closed); and whatever its roles, it holds no
permission beyond ``CONFINED_PERMISSIONS`` (those of the integration and customer roles),
so a key confined to a customer never reveals codes or runs bulk processes.

The four-eyes rule is not in this table: it compares the actor with the maker of a lot
or an export request, so the services check it (``FourEyesError``).

API keys look like ``vk_<key id>_<secret>``: the key id is public and finds the row, the
secret is 256 random bits shown once and stored only as its SHA-256 digest.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from vouchers.errors import AuthenticationError, PermissionDeniedError, ValidationError

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.@-]{0,63}$")
KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # hashing megabytes of "password" is a denial of service
API_KEY_PREFIX = "vk"
API_KEY = re.compile(r"^vk_([0-9a-f]{16})_([0-9a-f]{64})$")


class Role(StrEnum):
    """The roles of DESIGN.md §2."""

    ADMIN = "admin"
    OPERATOR = "operator"  # the maker
    FINANCE = "finance"  # the checker
    SUPPORT = "support"
    AUDITOR = "auditor"
    INTEGRATION = "integration"  # a host platform's API key
    CUSTOMER = "customer"  # the portal


class Permission(StrEnum):
    """Every action a role may be granted: ``<subject>.<action>``."""

    TYPES_READ = "types.read"
    TYPES_WRITE = "types.write"
    LOTS_READ = "lots.read"
    LOTS_WRITE = "lots.write"  # create, amend, modify
    LOTS_GENERATE = "lots.generate"
    IMPORTS_CREATE = "imports.create"  # codes made elsewhere, into new posted lots
    VOUCHERS_READ = "vouchers.read"  # masked codes only
    VOUCHERS_REVEAL = "vouchers.reveal"  # one code in clear, recorded in its history
    VOUCHERS_MODIFY = "vouchers.modify"
    VOUCHERS_ACCEPT = "vouchers.accept"  # accept or reject
    VOUCHERS_ACTIVATE = "vouchers.activate"
    VOUCHERS_CANCEL = "vouchers.cancel"
    VOUCHERS_PURGE = "vouchers.purge"
    VOUCHERS_EXPIRE = "vouchers.expire"
    HISTORY_READ = "history.read"
    ACCESS_ASSIGN = "access.assign"  # hand an access voucher to a customer
    ACCESS_DELETE = "access.delete"
    EXPORTS_REQUEST = "exports.request"
    EXPORTS_APPROVE = "exports.approve"
    RUNS_READ = "runs.read"
    RUNS_CANCEL = "runs.cancel"
    DEFINITIONS_READ = "definitions.read"
    DEFINITIONS_WRITE = "definitions.write"
    CUSTOMERS_READ = "customers.read"
    CUSTOMERS_WRITE = "customers.write"
    REDEMPTIONS_CREATE = "redemptions.create"  # redeem and validate
    REDEMPTIONS_READ = "redemptions.read"
    REDEMPTIONS_REVERSE = "redemptions.reverse"
    WALLETS_READ = "wallets.read"
    WALLETS_DEBIT = "wallets.debit"
    LEDGER_READ = "ledger.read"
    LEDGER_ADJUST = "ledger.adjust"  # approve large adjustments
    ATTEMPTS_UNLOCK = "attempts.unlock"
    SETTINGS_READ = "settings.read"
    SETTINGS_WRITE = "settings.write"
    KEYS_MANAGE = "keys.manage"  # code-sealing keys: status and rotation
    USERS_MANAGE = "users.manage"
    APIKEYS_MANAGE = "apikeys.manage"
    AUDIT_READ = "audit.read"
    REPORTS_READ = "reports.read"


_P = Permission
READ_ALL = frozenset(p for p in Permission if p.endswith(".read"))
_STAFF_READS = frozenset(
    {
        _P.TYPES_READ,
        _P.LOTS_READ,
        _P.VOUCHERS_READ,
        _P.HISTORY_READ,
        _P.RUNS_READ,
        _P.DEFINITIONS_READ,
    }
)

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: _STAFF_READS
    | {
        _P.TYPES_WRITE,
        _P.LOTS_WRITE,
        _P.LOTS_GENERATE,
        _P.IMPORTS_CREATE,
        _P.VOUCHERS_MODIFY,
        _P.ACCESS_ASSIGN,
        _P.RUNS_CANCEL,
        _P.CUSTOMERS_READ,
    },
    Role.FINANCE: _STAFF_READS
    | {
        _P.VOUCHERS_ACCEPT,
        _P.VOUCHERS_ACTIVATE,
        _P.VOUCHERS_CANCEL,
        _P.VOUCHERS_PURGE,
        _P.VOUCHERS_EXPIRE,
        _P.VOUCHERS_REVEAL,
        _P.EXPORTS_REQUEST,
        _P.EXPORTS_APPROVE,
        _P.RUNS_CANCEL,
        _P.REDEMPTIONS_READ,
        _P.REDEMPTIONS_REVERSE,
        _P.CUSTOMERS_READ,
        _P.WALLETS_READ,
        _P.LEDGER_READ,
        _P.LEDGER_ADJUST,
        _P.REPORTS_READ,
    },
    Role.SUPPORT: frozenset(
        {
            _P.VOUCHERS_READ,
            _P.HISTORY_READ,
            _P.ACCESS_ASSIGN,
            _P.ACCESS_DELETE,
            _P.CUSTOMERS_READ,
            _P.REDEMPTIONS_READ,
            _P.WALLETS_READ,
        }
    ),
    Role.AUDITOR: READ_ALL,
    Role.INTEGRATION: frozenset(
        {
            _P.CUSTOMERS_READ,
            _P.CUSTOMERS_WRITE,
            _P.REDEMPTIONS_CREATE,
            _P.REDEMPTIONS_READ,
            _P.WALLETS_READ,
            _P.WALLETS_DEBIT,
        }
    ),
    Role.CUSTOMER: frozenset(
        {
            _P.REDEMPTIONS_CREATE,
            _P.REDEMPTIONS_READ,
            _P.VOUCHERS_READ,
            _P.WALLETS_READ,
            _P.CUSTOMERS_READ,
        }
    ),
}


CONFINED_PERMISSIONS = ROLE_PERMISSIONS[Role.INTEGRATION] | ROLE_PERMISSIONS[Role.CUSTOMER]
"""The most a principal confined to one customer may hold: what can be done to one account."""
CONFINABLE_ROLES = frozenset({Role.INTEGRATION, Role.CUSTOMER})
"""The roles an API key confined to a customer may hold (the others act on everyone)."""


class PrincipalKind(StrEnum):
    """How a principal proved who it is."""

    STAFF = "staff"  # username and password
    API_KEY = "api_key"
    CUSTOMER = "customer"  # a portal login


STAFF_ROLES = frozenset({Role.ADMIN, Role.OPERATOR, Role.FINANCE, Role.SUPPORT, Role.AUDITOR})
KIND_ROLES: Mapping[PrincipalKind, frozenset[Role]] = {
    PrincipalKind.STAFF: STAFF_ROLES,
    PrincipalKind.API_KEY: STAFF_ROLES | {Role.INTEGRATION},
    PrincipalKind.CUSTOMER: frozenset({Role.CUSTOMER}),
}

_KIND_NAMES = {
    PrincipalKind.STAFF: "a staff user",
    PrincipalKind.API_KEY: "an API key",
    PrincipalKind.CUSTOMER: "a customer",
}


def parse_roles(values: Iterable[str], *, kind: PrincipalKind) -> frozenset[Role]:
    """Roles from their names, checked against what ``kind`` may hold.

    Raises ValidationError for none, an unknown name or a role the kind may not hold.
    """
    names = [value.strip().lower() for value in values]
    if not names:
        raise ValidationError("give at least one role")
    known = {role.value for role in Role}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValidationError(
            f"unknown role {', '.join(unknown)}; roles are {', '.join(r.value for r in Role)}"
        )
    roles = frozenset(Role(name) for name in names)
    _check_roles(roles, kind)
    return roles


def _check_roles(roles: frozenset[Role], kind: PrincipalKind) -> None:
    if not roles:
        raise ValidationError("give at least one role")
    refused = sorted(roles - KIND_ROLES[kind])
    if refused:
        raise ValidationError(f"{_KIND_NAMES[kind]} cannot hold the role {', '.join(refused)}")


@dataclass(frozen=True)
class Principal:
    """Whoever acts: its name (username, key name or customer reference), how it signed in,
    its roles, and the customer it is confined to, if any."""

    name: str
    kind: PrincipalKind
    roles: frozenset[Role]
    customer_id: int | None = None

    def __post_init__(self) -> None:
        _check_roles(self.roles, self.kind)
        if self.kind is PrincipalKind.CUSTOMER and self.customer_id is None:
            raise ValidationError("a customer principal needs its customer")
        if self.kind is PrincipalKind.STAFF and self.customer_id is not None:
            raise ValidationError("a staff user is not confined to a customer")

    @property
    def permissions(self) -> frozenset[Permission]:
        """Everything any of its roles may do; for a principal confined to a customer, only
        what can be done to one account (``CONFINED_PERMISSIONS``)."""
        granted = frozenset().union(*(ROLE_PERMISSIONS[role] for role in self.roles))
        return granted if self.customer_id is None else granted & CONFINED_PERMISSIONS


def authorize(
    principal: Principal, permission: Permission, *, customer_id: int | None = None
) -> None:
    """Allow ``principal`` to do ``permission`` (on ``customer_id``'s account, if given).

    Raises PermissionDeniedError when none of its roles grants the permission, or when it
    is confined to a customer and ``customer_id`` is not that customer (or not given).
    """
    if permission not in principal.permissions:
        raise PermissionDeniedError(f"{principal.name} may not {permission.value}")
    if principal.customer_id is not None and customer_id != principal.customer_id:
        raise PermissionDeniedError(f"{principal.name} may act only on its own customer")


@dataclass(frozen=True)
class Session:
    """A sign-in to the console or the portal: who, until when, and whether it was ended.

    Only the SHA-256 of the random session id is stored; the id itself lives in the
    signed cookie, so reading the table does not let anyone take a session over.
    """

    id_digest: bytes = field(repr=False)
    kind: PrincipalKind
    name: str
    customer_id: int | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    def live(self, now: datetime) -> bool:
        """Neither ended nor expired at ``now``."""
        return self.revoked_at is None and now < self.expires_at


def session_digest(session_id: str) -> bytes:
    """How a session id is stored: its SHA-256."""
    return hashlib.sha256(session_id.encode()).digest()


@dataclass(frozen=True)
class StaffUser:
    """A person of the operator who signs in with a password (stored as an Argon2 hash)."""

    username: str
    roles: frozenset[Role]
    password_hash: str = field(repr=False)
    display_name: str = ""
    active: bool = True
    id: int | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    password_changed_at: datetime | None = None

    def __post_init__(self) -> None:
        if not USERNAME.match(self.username):
            raise ValidationError(
                f"username {self.username[:70]!r} must be 1-64 lower-case letters, digits or "
                "'_.@-', starting with a letter or digit"
            )
        if len(self.display_name) > 200:
            raise ValidationError("a display name has at most 200 characters")
        _check_roles(self.roles, PrincipalKind.STAFF)

    def principal(self) -> Principal:
        """The user as the one who acts."""
        return Principal(self.username, PrincipalKind.STAFF, self.roles)


@dataclass(frozen=True)
class ApiKey:
    """A host platform's (or a script's) credential; the secret itself is never stored.

    ``customer_ref`` is read along with the key for display; ``customer_id`` is what counts.
    """

    name: str
    key_id: str
    roles: frozenset[Role]
    secret_digest: bytes = field(repr=False)
    customer_id: int | None = None
    customer_ref: str | None = None
    id: int | None = None
    created_at: datetime | None = None
    created_by: str | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def __post_init__(self) -> None:
        if not KEY_NAME.match(self.name):
            raise ValidationError(
                f"key name {self.name[:110]!r} must be 1-100 letters, digits or '_.:@-', "
                "starting with a letter or digit"
            )
        _check_roles(self.roles, PrincipalKind.API_KEY)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def principal(self) -> Principal:
        """The key as the one who acts."""
        return Principal(self.name, PrincipalKind.API_KEY, self.roles, self.customer_id)


def check_password(password: str) -> None:
    """Raises ValidationError for a password shorter than 12 or longer than 1024 characters."""
    if len(password) < MIN_PASSWORD:
        raise ValidationError(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise ValidationError(f"a password has at most {MAX_PASSWORD} characters")


def format_api_key(key_id: str, secret: str) -> str:
    """The key as handed out once: ``vk_<key id>_<secret>``."""
    return f"{API_KEY_PREFIX}_{key_id}_{secret}"


def parse_api_key(key: str) -> tuple[str, str]:
    """(key id, secret) of a presented key; raises AuthenticationError if it is not one."""
    found = API_KEY.match(key.strip())
    if found is None:
        raise AuthenticationError("invalid API key")
    return found.group(1), found.group(2)


def secret_digest(secret: str) -> bytes:
    """What is stored of an API key's secret: its SHA-256 digest (see services.access)."""
    return hashlib.sha256(secret.encode("ascii")).digest()
