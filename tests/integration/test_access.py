"""Staff users and API keys on SQLite and PostgreSQL: what is stored comes back the same,
the unique indexes refuse taken names, and a revoked key is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from vouchers.adapters.db import schema
from vouchers.adapters.passwords import Argon2Hasher
from vouchers.bootstrap import App
from vouchers.domain.access import Principal, PrincipalKind, Role
from vouchers.errors import (
    ApiKeyNotFoundError,
    AuthenticationError,
    DuplicateError,
    UserNotFoundError,
)
from vouchers.services import access, customers

PASSWORD = "correct horse battery"


@pytest.fixture
def hasher(app: App) -> Argon2Hasher:
    app.passwords = Argon2Hasher.for_tests()
    return app.passwords


def test_a_user_makes_a_round_trip_and_signs_in(app: App, hasher: Argon2Hasher) -> None:
    created = access.create_user(
        "alice",
        PASSWORD,
        roles=["finance", "auditor"],
        display_name="Alice Adams",
        uow=app.uow(),
        passwords=hasher,
        clock=app.clock,
        actor="root",
    )
    (listed,) = access.list_users(uow=app.uow())
    assert listed == created
    assert listed.id is not None
    assert listed.roles == {Role.FINANCE, Role.AUDITOR}
    assert listed.created_at == listed.password_changed_at == app.clock()
    assert access.verify_password("alice", PASSWORD, uow=app.uow(), passwords=hasher) == Principal(
        "alice", PrincipalKind.STAFF, frozenset({Role.FINANCE, Role.AUDITOR})
    )
    access.set_password(
        "alice", "another long passphrase", uow=app.uow(), passwords=hasher, clock=app.clock,
        actor="root",
    )  # fmt: skip
    with pytest.raises(AuthenticationError):
        access.verify_password("alice", PASSWORD, uow=app.uow(), passwords=hasher)
    access.set_user_active("alice", False, uow=app.uow(), clock=app.clock, actor="root")
    with pytest.raises(AuthenticationError):
        access.verify_password("alice", "another long passphrase", uow=app.uow(), passwords=hasher)


def test_a_taken_username_is_refused_and_nothing_else_changes(
    app: App, hasher: Argon2Hasher
) -> None:
    deps = {"uow": app.uow(), "passwords": hasher, "clock": app.clock, "actor": "root"}
    access.create_user("alice", PASSWORD, roles=["admin"], **deps)
    with pytest.raises(DuplicateError):
        access.create_user("Alice", PASSWORD, roles=["auditor"], **deps)
    assert [u.roles for u in access.list_users(uow=app.uow())] == [{Role.ADMIN}]
    with app.uow() as uow:
        events = uow.events.recent()
    assert [e["type"] for e in events] == ["user.created"]
    with pytest.raises(UserNotFoundError):
        access.set_password("bob", PASSWORD, **deps)


def test_an_api_key_makes_a_round_trip_is_unique_and_refused_once_revoked(app: App) -> None:
    deps = {"uow": app.uow(), "clock": app.clock, "actor": "root"}
    customer = customers.create_customer("C-9", **deps)
    issued = access.create_api_key("shop", roles=["integration"], customer_ref="C-9", **deps)
    (listed,) = access.list_api_keys(uow=app.uow())
    assert listed == issued.api_key
    assert (listed.customer_id, listed.customer_ref) == (customer.id, "C-9")
    assert listed.roles == {Role.INTEGRATION}
    assert not listed.revoked
    with app.engine.connect() as conn:
        stored = conn.execute(select(schema.api_keys.c.secret_digest)).scalar_one()
    secret = issued.key.rsplit("_", 1)[1]
    assert len(stored) == 32
    assert secret.encode() not in stored

    principal = access.authenticate_api_key(issued.key, uow=app.uow())
    assert principal.customer_id == customer.id
    with pytest.raises(DuplicateError):
        access.create_api_key("shop", roles=["auditor"], **deps)

    revoked = access.revoke_api_key("shop", **deps)
    assert (revoked.revoked_at, revoked.revoked_by) == (app.clock(), "root")
    assert access.revoke_api_key("shop", **deps) == revoked  # twice changes nothing
    with pytest.raises(AuthenticationError, match="invalid API key"):
        access.authenticate_api_key(issued.key, uow=app.uow())
    with pytest.raises(ApiKeyNotFoundError):
        access.revoke_api_key("nope", **deps)


def test_unknown_keys_are_refused_with_the_same_message(app: App) -> None:
    deps = {"uow": app.uow(), "clock": app.clock, "actor": "root"}
    key = access.create_api_key("ops", roles=["operator"], **deps).key
    for presented in ("vk_" + "0" * 16 + key[-65:], key[:-1] + "x", "nonsense"):
        with pytest.raises(AuthenticationError, match="invalid API key"):
            access.authenticate_api_key(presented, uow=app.uow())
