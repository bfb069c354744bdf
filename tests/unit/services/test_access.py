"""Staff users, passwords and API keys through fake storage, with the real Argon2 hasher at
its lowest cost (wrapped to count its work, so the constant-time paths can be checked)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from support.fakes import FakeClock, FakeUnitOfWork
from vouchers.adapters.passwords import Argon2Hasher
from vouchers.domain.access import Permission, Principal, PrincipalKind, Role, authorize
from vouchers.errors import (
    ApiKeyNotFoundError,
    AuthenticationError,
    CustomerNotFoundError,
    DuplicateError,
    PermissionDeniedError,
    UserNotFoundError,
    ValidationError,
)
from vouchers.services import access, customers

PASSWORD = "correct horse battery"


@dataclass
class CountingHasher:
    """The real hasher, counting how many Argon2 computations each call made."""

    inner: Argon2Hasher = field(default_factory=Argon2Hasher.for_tests)
    hashes: int = 0
    verifies: int = 0

    def hash(self, password: str) -> str:
        self.hashes += 1
        return self.inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.verifies += 1
        return self.inner.verify(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self.inner.needs_rehash(password_hash)

    @property
    def work(self) -> int:
        return self.hashes + self.verifies


@pytest.fixture
def hasher() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def deps(uow: FakeUnitOfWork, clock: FakeClock, hasher: CountingHasher) -> dict[str, Any]:
    return {"uow": uow, "clock": clock, "passwords": hasher, "actor": "root"}


def make_user(deps: dict[str, Any], username: str = "alice", *roles: str) -> None:
    access.create_user(username, PASSWORD, roles=roles or ["operator"], **deps)


def login(deps: dict[str, Any], username: str, password: str) -> Principal:
    return access.verify_password(username, password, uow=deps["uow"], passwords=deps["passwords"])


# Users and passwords


def test_a_new_user_signs_in_as_a_staff_principal_with_its_roles(
    deps: dict[str, Any], uow: FakeUnitOfWork
) -> None:
    user = access.create_user(
        " Alice ", PASSWORD, roles=["operator", "support"], display_name=" Alice A. ", **deps
    )
    assert (user.username, user.display_name, user.active) == ("alice", "Alice A.", True)
    assert user.created_by == "root"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert login(deps, "ALICE", PASSWORD) == Principal(
        "alice", PrincipalKind.STAFF, frozenset({Role.OPERATOR, Role.SUPPORT})
    )
    assert uow.database.event_types() == ["user.created"]


def test_usernames_are_unique_whatever_their_case(deps: dict[str, Any]) -> None:
    make_user(deps, "alice")
    with pytest.raises(DuplicateError):
        make_user(deps, "ALICE")


@pytest.mark.parametrize(
    ("username", "password", "roles"),
    [
        ("alice", "short", ["admin"]),
        ("alice", PASSWORD, []),
        ("alice", PASSWORD, ["integration"]),
        ("alice", PASSWORD, ["customer"]),
        ("al ice", PASSWORD, ["admin"]),
    ],
)
def test_invalid_users_are_refused_and_nothing_is_stored(
    deps: dict[str, Any], uow: FakeUnitOfWork, username: str, password: str, roles: list[str]
) -> None:
    with pytest.raises(ValidationError):
        access.create_user(username, password, roles=roles, **deps)
    assert access.list_users(uow=uow) == []


def test_a_wrong_password_an_unknown_user_and_an_inactive_user_get_the_same_refusal(
    deps: dict[str, Any], uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    make_user(deps, "alice")
    make_user(deps, "bob")
    access.set_user_active("bob", False, uow=uow, clock=clock, actor="root")
    messages = set()
    for username, password in [
        ("alice", "wrong password!"),
        ("nobody", PASSWORD),
        ("bob", PASSWORD),
    ]:
        with pytest.raises(AuthenticationError) as refused:
            login(deps, username, password)
        messages.add(refused.value.message)
    assert messages == {"invalid username or password"}
    access.set_user_active("bob", True, uow=uow, clock=clock, actor="root")
    assert login(deps, "bob", PASSWORD).name == "bob"


def test_every_sign_in_costs_one_argon2_computation_even_for_an_unknown_user(
    deps: dict[str, Any], hasher: CountingHasher
) -> None:
    make_user(deps, "alice")
    for username, password in [
        ("alice", PASSWORD),
        ("alice", "wrong password!"),
        ("nobody", PASSWORD),
    ]:
        before = hasher.work
        with contextlib.suppress(AuthenticationError):
            login(deps, username, password)
        assert hasher.work - before == 1, username


def test_an_oversized_password_is_refused_before_any_hashing(
    deps: dict[str, Any], hasher: CountingHasher
) -> None:
    make_user(deps, "alice")
    before = hasher.work
    with pytest.raises(AuthenticationError):
        login(deps, "alice", "x" * 100_000)
    assert hasher.work == before


def test_a_new_password_replaces_the_old_one(
    deps: dict[str, Any], uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    make_user(deps, "alice")
    access.set_password("alice", "a much better passphrase", **deps)
    with pytest.raises(AuthenticationError):
        login(deps, "alice", PASSWORD)
    assert login(deps, "alice", "a much better passphrase").name == "alice"
    assert uow.database.event_types() == ["user.created", "user.password_changed"]
    with pytest.raises(ValidationError):
        access.set_password("alice", "short", **deps)
    with pytest.raises(UserNotFoundError):
        access.set_password("nobody", PASSWORD, **deps)


def test_a_hash_made_with_weaker_parameters_is_replaced_at_sign_in(
    deps: dict[str, Any], uow: FakeUnitOfWork, hasher: CountingHasher
) -> None:
    make_user(deps, "alice")
    old_hash = access.list_users(uow=uow)[0].password_hash
    hasher.inner = Argon2Hasher(time_cost=2, memory_cost=8, parallelism=1)  # raised cost
    assert login(deps, "alice", PASSWORD).name == "alice"
    new_hash = access.list_users(uow=uow)[0].password_hash
    assert new_hash != old_hash
    assert "t=2" in new_hash
    assert not hasher.inner.needs_rehash(new_hash)


def test_users_are_listed_in_username_order(deps: dict[str, Any], uow: FakeUnitOfWork) -> None:
    for name in ("carol", "alice", "bob"):
        make_user(deps, name, "auditor")
    assert [u.username for u in access.list_users(uow=uow)] == ["alice", "bob", "carol"]


# API keys


@pytest.fixture
def key_deps(uow: FakeUnitOfWork, clock: FakeClock) -> dict[str, Any]:
    return {"uow": uow, "clock": clock, "actor": "root"}


def test_a_new_key_is_shown_once_stored_as_a_digest_and_authenticates(
    key_deps: dict[str, Any], uow: FakeUnitOfWork
) -> None:
    issued = access.create_api_key("shop", roles=["integration"], **key_deps)
    assert issued.key.startswith(f"vk_{issued.api_key.key_id}_")
    secret = issued.key.rsplit("_", 1)[1]
    assert len(secret) == 64
    stored = uow.database.tables.api_keys["shop"]
    assert secret.encode() not in stored.secret_digest
    assert secret not in repr(stored)
    assert issued.key not in repr(issued)
    principal = access.authenticate_api_key(issued.key, uow=uow)
    assert principal == Principal("shop", PrincipalKind.API_KEY, frozenset({Role.INTEGRATION}))
    authorize(principal, Permission.WALLETS_DEBIT, customer_id=123)
    assert uow.database.event_types() == ["api_key.created"]
    assert issued.key not in str(uow.database.tables.events)


def test_two_keys_never_share_a_secret_and_names_are_unique(
    key_deps: dict[str, Any],
) -> None:
    first = access.create_api_key("a", roles=["integration"], **key_deps)
    second = access.create_api_key("b", roles=["integration"], **key_deps)
    assert first.key != second.key
    assert first.api_key.key_id != second.api_key.key_id
    with pytest.raises(DuplicateError):
        access.create_api_key("a", roles=["auditor"], **key_deps)


def test_a_key_confined_to_a_customer_carries_its_scope(
    key_deps: dict[str, Any], uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    own = customers.create_customer("C1", uow=uow, clock=clock, actor="root").require_id()
    issued = access.create_api_key("c1-app", roles=["integration"], customer_ref="C1", **key_deps)
    assert (issued.api_key.customer_id, issued.api_key.customer_ref) == (own, "C1")
    principal = access.authenticate_api_key(issued.key, uow=uow)
    authorize(principal, Permission.REDEMPTIONS_CREATE, customer_id=own)
    with pytest.raises(PermissionDeniedError):
        authorize(principal, Permission.REDEMPTIONS_CREATE, customer_id=own + 1)
    with pytest.raises(CustomerNotFoundError):
        access.create_api_key("x", roles=["integration"], customer_ref="NOPE", **key_deps)


def test_a_key_confined_to_a_customer_cannot_hold_a_staff_role(
    key_deps: dict[str, Any], uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    customers.create_customer("C1", uow=uow, clock=clock, actor="root")
    for roles in (["finance"], ["integration", "admin"], ["auditor"]):
        with pytest.raises(ValidationError, match="confined to a customer"):
            access.create_api_key("c1-staff", roles=roles, customer_ref="C1", **key_deps)
    assert access.list_api_keys(uow=uow) == []


def test_keys_with_roles_they_may_not_hold_are_refused(key_deps: dict[str, Any]) -> None:
    for roles in ([], ["customer"], ["root"]):
        with pytest.raises(ValidationError):
            access.create_api_key("k", roles=roles, **key_deps)


def test_a_revoked_an_unknown_a_forged_and_a_malformed_key_get_the_same_refusal(
    key_deps: dict[str, Any], uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    revoked = access.create_api_key("old", roles=["integration"], **key_deps).key
    live = access.create_api_key("live", roles=["integration"], **key_deps).key
    record = access.revoke_api_key("old", **key_deps)
    assert (record.revoked_at, record.revoked_by) == (clock.now, "root")
    forged = live[:-4] + ("0000" if not live.endswith("0000") else "1111")
    unknown = "vk_" + "f" * 16 + live[-65:]
    messages = set()
    for key in (revoked, forged, unknown, "vk_nonsense", ""):
        with pytest.raises(AuthenticationError) as refused:
            access.authenticate_api_key(key, uow=uow)
        messages.add(refused.value.message)
    assert messages == {"invalid API key"}
    assert access.authenticate_api_key(live, uow=uow).name == "live"


def test_an_unknown_key_id_still_compares_one_digest(
    key_deps: dict[str, Any], uow: FakeUnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = access.create_api_key("live", roles=["integration"], **key_deps).key
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", spy)
    with pytest.raises(AuthenticationError):
        access.authenticate_api_key("vk_" + "f" * 16 + live[-65:], uow=uow)
    access.authenticate_api_key(live, uow=uow)
    assert len(compared) == 2
    assert all(len(a) == len(b) == 32 for a, b in compared)


def test_revoking_twice_changes_nothing_and_an_unknown_name_is_not_found(
    key_deps: dict[str, Any], uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    access.create_api_key("old", roles=["integration"], **key_deps)
    first = access.revoke_api_key("old", **key_deps)
    clock.now = clock.now.replace(year=clock.now.year + 1)
    again = access.revoke_api_key("old", **key_deps)
    assert again.revoked_at == first.revoked_at
    assert uow.database.event_types() == ["api_key.created", "api_key.revoked"]
    with pytest.raises(ApiKeyNotFoundError):
        access.revoke_api_key("nope", **key_deps)


def test_keys_are_listed_in_name_order_revoked_ones_too(
    key_deps: dict[str, Any], uow: FakeUnitOfWork
) -> None:
    for name in ("zeta", "alpha"):
        access.create_api_key(name, roles=["auditor"], **key_deps)
    access.revoke_api_key("zeta", **key_deps)
    listed = access.list_api_keys(uow=uow)
    assert [(k.name, k.revoked) for k in listed] == [("alpha", False), ("zeta", True)]


# The server's remembering authenticator


def test_the_key_authenticator_reads_a_key_once_per_ttl_and_checks_the_secret_every_time(
    key_deps: dict[str, Any], uow: FakeUnitOfWork
) -> None:
    issued = access.create_api_key("shop", roles=["integration"], **key_deps)
    now = [100.0]
    opened = 0

    def new_uow() -> FakeUnitOfWork:
        nonlocal opened
        opened += 1
        return uow

    keys = access.KeyAuthenticator(new_uow, ttl=5.0, monotonic=lambda: now[0])
    assert keys(issued.key).name == "shop"
    assert keys(issued.key).name == "shop"
    assert opened == 1
    forged = issued.key[:-4] + ("0000" if not issued.key.endswith("0000") else "1111")
    with pytest.raises(AuthenticationError):
        keys(forged)
    assert opened == 1

    access.revoke_api_key("shop", **key_deps)
    now[0] += 4.9
    assert keys(issued.key).name == "shop"  # remembered: revocation reaches it within the ttl
    now[0] += 0.2
    with pytest.raises(AuthenticationError):
        keys(issued.key)
    assert opened == 2


def test_the_key_authenticator_remembers_no_unknown_key_and_stays_bounded(
    key_deps: dict[str, Any], uow: FakeUnitOfWork
) -> None:
    opened = 0

    def new_uow() -> FakeUnitOfWork:
        nonlocal opened
        opened += 1
        return uow

    keys = access.KeyAuthenticator(new_uow, capacity=2)
    unknown = f"vk_{'0' * 16}_{'1' * 64}"
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            keys(unknown)
    assert opened == 3
    issued = [access.create_api_key(f"k{n}", roles=["integration"], **key_deps) for n in range(3)]
    for one in issued:
        keys(one.key)
    assert len(keys._rows) <= 2
    keys.forget(issued[2].api_key.key_id)
    keys(issued[2].key)
    assert opened == 7


def test_remembered_answers_only_from_memory(key_deps: dict[str, Any], uow: FakeUnitOfWork) -> None:
    issued = access.create_api_key("shop", roles=["integration"], **key_deps)
    keys = access.KeyAuthenticator(lambda: uow)
    assert keys.remembered(issued.key) is None
    keys(issued.key)
    principal = keys.remembered(issued.key)
    assert principal is not None
    assert principal.name == "shop"
    with pytest.raises(AuthenticationError):
        keys.remembered(issued.key[:-1] + ("0" if issued.key[-1] != "0" else "1"))


# Sessions


def test_a_session_lives_until_it_expires_or_is_closed_and_old_ones_are_pruned(
    deps: dict[str, Any], uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    make_user(deps, "alice", "operator")
    alice = login(deps, "alice", PASSWORD)
    hours = timedelta(hours=8)
    first, stored = access.open_session(alice, uow=uow, clock=clock, lifetime=hours)
    assert stored.id_digest == hashlib.sha256(first.encode()).digest()  # only a digest kept
    assert first not in repr(uow.database.tables.sessions)
    assert access.session_principal(first, uow=uow, clock=clock) == alice
    assert access.session_principal("made-up", uow=uow, clock=clock) is None

    second, _ = access.open_session(alice, uow=uow, clock=clock, lifetime=hours)
    access.close_session(second, uow=uow, clock=clock)
    assert access.session_principal(second, uow=uow, clock=clock) is None
    assert access.session_principal(first, uow=uow, clock=clock) == alice  # the other lives

    clock.advance(hours)
    assert access.session_principal(first, uow=uow, clock=clock) is None  # expired
    clock.advance(timedelta(days=1, seconds=1))
    access.open_session(alice, uow=uow, clock=clock, lifetime=hours)
    assert len(uow.database.tables.sessions) == 1  # the two old ones were pruned


def test_only_staff_and_customers_have_sessions(uow: FakeUnitOfWork, clock: FakeClock) -> None:
    key = Principal("shop", PrincipalKind.API_KEY, frozenset({Role.INTEGRATION}))
    with pytest.raises(ValidationError):
        access.open_session(key, uow=uow, clock=clock, lifetime=timedelta(hours=1))
