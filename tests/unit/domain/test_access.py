"""Roles and permissions: the whole role × permission table, the object-level check for
principals confined to a customer, and the rules of DESIGN.md §2 the table must keep."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from vouchers.domain.access import (
    CONFINED_PERMISSIONS,
    KIND_ROLES,
    ROLE_PERMISSIONS,
    ApiKey,
    Permission,
    Principal,
    PrincipalKind,
    Role,
    StaffUser,
    authorize,
    check_password,
    format_api_key,
    parse_api_key,
    parse_roles,
    secret_digest,
)
from vouchers.errors import AuthenticationError, PermissionDeniedError, ValidationError

# The table as DESIGN.md §2 reads, written out independently of the code: a change to
# ROLE_PERMISSIONS must be made here too, on purpose.
EXPECTED: dict[Role, set[str]] = {
    Role.ADMIN: {p.value for p in Permission},
    Role.OPERATOR: {
        "types.read", "types.write", "lots.read", "lots.write", "lots.generate",
        "imports.create", "vouchers.read", "vouchers.modify", "history.read", "access.assign",
        "runs.read", "runs.cancel", "definitions.read", "customers.read",
    },
    Role.FINANCE: {
        "types.read", "lots.read", "vouchers.read", "vouchers.reveal", "vouchers.accept",
        "vouchers.activate", "vouchers.cancel", "vouchers.purge", "vouchers.expire",
        "history.read", "exports.request", "exports.approve", "runs.read", "runs.cancel",
        "definitions.read", "customers.read", "redemptions.read", "redemptions.reverse",
        "wallets.read", "ledger.read", "ledger.adjust", "reports.read",
    },
    Role.SUPPORT: {
        "vouchers.read", "history.read", "access.assign", "access.delete", "customers.read",
        "redemptions.read", "wallets.read",
    },
    Role.AUDITOR: {
        "types.read", "lots.read", "vouchers.read", "history.read", "runs.read",
        "definitions.read", "customers.read", "redemptions.read", "wallets.read",
        "ledger.read", "settings.read", "audit.read", "reports.read",
    },
    Role.INTEGRATION: {
        "customers.read", "customers.write", "redemptions.create", "redemptions.read",
        "wallets.read", "wallets.debit",
    },
    Role.CUSTOMER: {
        "redemptions.create", "redemptions.read", "vouchers.read", "wallets.read",
        "customers.read",
    },
}  # fmt: skip

CUSTOMER_ID = 7


def principal_with(role: Role) -> Principal:
    """A principal holding only ``role``, of a kind that may hold it (customers confined)."""
    if role is Role.CUSTOMER:
        return Principal("c-1", PrincipalKind.CUSTOMER, frozenset({role}), CUSTOMER_ID)
    kind = PrincipalKind.STAFF if role in KIND_ROLES[PrincipalKind.STAFF] else PrincipalKind.API_KEY
    return Principal(f"{role.value}-1", kind, frozenset({role}))


def test_every_role_has_a_row_and_the_table_is_the_one_design_md_describes() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert {role: {p.value for p in perms} for role, perms in ROLE_PERMISSIONS.items()} == EXPECTED


@pytest.mark.parametrize(("role", "permission"), list(itertools.product(Role, Permission)), ids=str)
def test_authorize_allows_exactly_what_the_table_grants(role: Role, permission: Permission) -> None:
    principal = principal_with(role)
    customer_id = CUSTOMER_ID if role is Role.CUSTOMER else None
    if permission.value in EXPECTED[role]:
        authorize(principal, permission, customer_id=customer_id)
    else:
        with pytest.raises(PermissionDeniedError, match=re.escape(permission.value)):
            authorize(principal, permission, customer_id=customer_id)


def test_every_permission_is_granted_to_someone_besides_admin_or_is_admin_only_on_purpose() -> None:
    admin_only = {
        p for p in Permission if all(p not in ROLE_PERMISSIONS[r] for r in Role if r != Role.ADMIN)
    }
    assert {p.value for p in admin_only} == {
        "definitions.write",
        "attempts.unlock",
        "settings.write",
        "keys.manage",
        "users.manage",
        "apikeys.manage",
    }


def test_the_rules_of_design_md_hold() -> None:
    # Support never sees a full code; the auditor changes nothing; the integration only
    # works with customers and their money.
    assert Permission.VOUCHERS_REVEAL not in ROLE_PERMISSIONS[Role.SUPPORT]
    assert all(p.endswith(".read") for p in ROLE_PERMISSIONS[Role.AUDITOR])
    assert all(
        p.split(".")[0] in {"customers", "redemptions", "wallets"}
        for p in ROLE_PERMISSIONS[Role.INTEGRATION]
    )
    # Makers and checkers are different people: no maker permission is a checker's.
    maker = {
        Permission.LOTS_WRITE,
        Permission.LOTS_GENERATE,
        Permission.IMPORTS_CREATE,
        Permission.TYPES_WRITE,
    }
    checker = {Permission.VOUCHERS_ACCEPT, Permission.VOUCHERS_ACTIVATE}
    assert not maker & ROLE_PERMISSIONS[Role.FINANCE]
    assert not checker & ROLE_PERMISSIONS[Role.OPERATOR]


def test_several_roles_grant_the_union_of_their_permissions() -> None:
    both = Principal("pat", PrincipalKind.STAFF, frozenset({Role.OPERATOR, Role.SUPPORT}))
    assert both.permissions == ROLE_PERMISSIONS[Role.OPERATOR] | ROLE_PERMISSIONS[Role.SUPPORT]
    authorize(both, Permission.LOTS_GENERATE)
    authorize(both, Permission.ACCESS_DELETE)
    with pytest.raises(PermissionDeniedError):
        authorize(both, Permission.VOUCHERS_ACTIVATE)


def test_a_customer_acts_only_on_its_own_account() -> None:
    customer = principal_with(Role.CUSTOMER)
    authorize(customer, Permission.WALLETS_READ, customer_id=CUSTOMER_ID)
    with pytest.raises(PermissionDeniedError, match="its own customer"):
        authorize(customer, Permission.WALLETS_READ, customer_id=CUSTOMER_ID + 1)
    with pytest.raises(PermissionDeniedError, match="its own customer"):
        authorize(customer, Permission.WALLETS_READ)  # naming no customer is not its own


def test_a_key_confined_to_a_customer_acts_only_on_that_customer() -> None:
    key = Principal("shop", PrincipalKind.API_KEY, frozenset({Role.INTEGRATION}), CUSTOMER_ID)
    authorize(key, Permission.WALLETS_DEBIT, customer_id=CUSTOMER_ID)
    for other in (None, 8):
        with pytest.raises(PermissionDeniedError):
            authorize(key, Permission.WALLETS_DEBIT, customer_id=other)
    # The scope narrows the roles, never widens them.
    with pytest.raises(PermissionDeniedError, match=r"wallets\.debit"):
        authorize(
            Principal("ro", PrincipalKind.API_KEY, frozenset({Role.AUDITOR}), CUSTOMER_ID),
            Permission.WALLETS_DEBIT,
            customer_id=CUSTOMER_ID,
        )


@pytest.mark.parametrize("role", sorted(KIND_ROLES[PrincipalKind.API_KEY]))
def test_a_key_confined_to_a_customer_holds_nothing_beyond_what_one_account_allows(
    role: Role,
) -> None:
    key = Principal("c1", PrincipalKind.API_KEY, frozenset({role}), CUSTOMER_ID)
    assert key.permissions <= CONFINED_PERMISSIONS
    everyone = (
        Permission.VOUCHERS_REVEAL,
        Permission.VOUCHERS_ACTIVATE,
        Permission.RUNS_READ,
        Permission.SETTINGS_WRITE,
    )
    for permission in everyone:
        assert permission not in key.permissions
        with pytest.raises(PermissionDeniedError):
            authorize(key, permission, customer_id=CUSTOMER_ID)


def test_an_unconfined_principal_may_act_on_any_customer() -> None:
    platform = principal_with(Role.INTEGRATION)
    authorize(platform, Permission.REDEMPTIONS_CREATE, customer_id=1)
    authorize(platform, Permission.REDEMPTIONS_CREATE, customer_id=2)
    authorize(platform, Permission.CUSTOMERS_WRITE)


@pytest.mark.parametrize(
    ("kind", "roles", "customer_id", "message"),
    [
        (PrincipalKind.STAFF, {Role.INTEGRATION}, None, "cannot hold the role integration"),
        (PrincipalKind.STAFF, {Role.CUSTOMER}, None, "cannot hold the role customer"),
        (PrincipalKind.API_KEY, {Role.CUSTOMER}, None, "cannot hold the role customer"),
        (PrincipalKind.CUSTOMER, {Role.ADMIN}, 1, "cannot hold the role admin"),
        (PrincipalKind.CUSTOMER, {Role.CUSTOMER}, None, "needs its customer"),
        (PrincipalKind.STAFF, {Role.ADMIN}, 1, "not confined"),
        (PrincipalKind.STAFF, set(), None, "at least one role"),
    ],
)
def test_principals_hold_only_the_roles_of_their_kind(
    kind: PrincipalKind, roles: set[Role], customer_id: int | None, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Principal("x", kind, frozenset(roles), customer_id)


def test_roles_are_parsed_from_their_names() -> None:
    assert parse_roles([" Finance", "operator"], kind=PrincipalKind.STAFF) == {
        Role.FINANCE,
        Role.OPERATOR,
    }
    with pytest.raises(ValidationError, match="unknown role boss"):
        parse_roles(["boss"], kind=PrincipalKind.STAFF)
    with pytest.raises(ValidationError, match="at least one role"):
        parse_roles([], kind=PrincipalKind.API_KEY)
    with pytest.raises(ValidationError, match="integration"):
        parse_roles(["integration"], kind=PrincipalKind.STAFF)


def test_users_and_keys_are_named_sensibly_and_never_show_their_secrets() -> None:
    user = StaffUser("alice", frozenset({Role.ADMIN}), "$argon2id$secret-hash")
    assert "argon2" not in repr(user)
    assert user.principal() == Principal("alice", PrincipalKind.STAFF, frozenset({Role.ADMIN}))
    for bad in ("Alice", "", "a b", "-x", "x" * 65):
        with pytest.raises(ValidationError):
            StaffUser(bad, frozenset({Role.ADMIN}), "h")
    key = ApiKey("shop", "0" * 16, frozenset({Role.INTEGRATION}), b"\x01" * 32, customer_id=3)
    assert "x01" not in repr(key)
    assert key.principal().customer_id == 3
    with pytest.raises(ValidationError):
        ApiKey("no spaces", "0" * 16, frozenset({Role.INTEGRATION}), b"")


def test_passwords_have_a_minimum_and_a_maximum_length() -> None:
    check_password("x" * 12)
    for bad in ("x" * 11, "x" * 1025):
        with pytest.raises(ValidationError):
            check_password(bad)


def test_api_keys_round_trip_through_their_format_and_anything_else_is_refused() -> None:
    key_id, secret = "0123456789abcdef", "ab" * 32
    key = format_api_key(key_id, secret)
    assert key == f"vk_{key_id}_{secret}"
    assert parse_api_key(f"  {key}\n") == (key_id, secret)
    for bad in ("", key[:-1], key.upper(), "xk" + key[2:], key.replace("_", "-")):
        with pytest.raises(AuthenticationError, match="invalid API key"):
            parse_api_key(bad)
    assert len(secret_digest(secret)) == 32
    assert secret_digest(secret) != secret_digest("cd" * 32)


def test_the_roles_table_in_docs_matches_the_code() -> None:
    text = (Path(__file__).parents[3] / "docs" / "access.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| permission |"))
    roles = [cell.strip() for cell in header.strip().strip("|").split("|")][1:]
    documented: dict[str, set[str]] = {role: set() for role in roles}
    for line in (line for line in lines if line.startswith("| `")):
        permission, *marks = [cell.strip() for cell in line.strip().strip("|").split("|")]
        for role, mark in zip(roles, marks, strict=True):
            if mark:
                documented[role].add(permission.strip("`"))
    assert documented == {role.value: perms for role, perms in EXPECTED.items()}
