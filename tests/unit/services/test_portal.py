"""Customer sign-in to the portal through fake storage: the password staff set (and reset),
the same refusal for every wrong case, signed links that sign in once, and what the
portal's home page reads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from support.fakes import FakeClock, FakeUnitOfWork
from vouchers.adapters.passwords import Argon2Hasher
from vouchers.domain.access import Permission, Principal, PrincipalKind, Role, authorize
from vouchers.domain.portal import BAD_LINK, sign_link
from vouchers.errors import (
    AuthenticationError,
    CustomerNotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from vouchers.services import customers, portal
from vouchers.services.redemptions import RedemptionRequest
from vouchers.services.settings import set_setting

PASSWORD = "correct horse battery"
KEY = "s" * 64


@pytest.fixture
def deps(uow: FakeUnitOfWork, clock: FakeClock) -> dict[str, Any]:
    return {"uow": uow, "clock": clock, "passwords": Argon2Hasher.for_tests()}


@pytest.fixture
def ann(deps: dict[str, Any]) -> int:
    created = customers.create_customer(
        "C1", uow=deps["uow"], clock=deps["clock"], actor="alice", name="Ann"
    )
    return created.require_id()


def set_password(deps: dict[str, Any], ref: str = "C1", password: str = PASSWORD) -> None:
    customers.set_customer_password(ref, password, actor="alice", **deps)


def password_sign_in(deps: dict[str, Any], ref: str, password: str) -> Principal:
    return portal.sign_in_with_password(ref, password, **deps)


def test_a_customer_with_a_password_signs_in_confined_to_its_own_account(
    deps: dict[str, Any], ann: int, uow: FakeUnitOfWork
) -> None:
    set_password(deps)

    principal = password_sign_in(deps, " C1 ", PASSWORD)

    assert principal == Principal("C1", PrincipalKind.CUSTOMER, frozenset({Role.CUSTOMER}), ann)
    authorize(principal, Permission.WALLETS_READ, customer_id=ann)
    with pytest.raises(PermissionDeniedError):
        authorize(principal, Permission.WALLETS_READ)
    with pytest.raises(PermissionDeniedError):
        authorize(principal, Permission.CUSTOMERS_WRITE, customer_id=ann)
    assert uow.database.event_types() == ["customer.password_set"]
    assert PASSWORD not in str(uow.database.tables.customer_passwords)


def test_staff_reset_a_password_and_the_old_one_stops_working(
    deps: dict[str, Any], ann: int, uow: FakeUnitOfWork
) -> None:
    set_password(deps)
    set_password(deps, password="a brand new passphrase")

    with pytest.raises(AuthenticationError):
        password_sign_in(deps, "C1", PASSWORD)
    assert password_sign_in(deps, "C1", "a brand new passphrase").customer_id == ann
    payloads = [e.payload for e in uow.database.tables.events]
    assert '"replaced": false' in payloads[0]
    assert '"replaced": true' in payloads[1]


@pytest.mark.parametrize("password", ["short", "x" * 1025])
def test_a_password_outside_12_to_1024_characters_is_refused(
    deps: dict[str, Any], ann: int, uow: FakeUnitOfWork, password: str
) -> None:
    with pytest.raises(ValidationError):
        set_password(deps, password=password)
    assert uow.database.tables.customer_passwords == {}


def test_setting_the_password_of_an_unknown_customer_is_refused(deps: dict[str, Any]) -> None:
    with pytest.raises(CustomerNotFoundError):
        set_password(deps, ref="C9")


def test_unknown_account_no_password_blocked_and_wrong_password_get_one_refusal(
    deps: dict[str, Any], ann: int
) -> None:
    set_password(deps)
    customers.create_customer("C2", uow=deps["uow"], clock=deps["clock"], actor="alice")
    customers.create_customer("C3", uow=deps["uow"], clock=deps["clock"], actor="alice")
    set_password(deps, ref="C3")
    customers.update_customer(
        "C3", {"status": "blocked"}, uow=deps["uow"], clock=deps["clock"], actor="alice"
    )

    messages = set()
    for ref, password in (
        ("C9", PASSWORD),
        ("C2", PASSWORD),
        ("C3", PASSWORD),
        ("C1", "wrong password!"),
        ("C1", "x" * 2000),
    ):
        with pytest.raises(AuthenticationError) as refused:
            password_sign_in(deps, ref, password)
        messages.add(refused.value.message)

    assert messages == {portal.BAD_LOGIN}


def link_sign_in(deps: dict[str, Any], link: Any, *, keys: tuple[str, ...] = (KEY,)) -> Principal:
    return portal.sign_in_with_link(
        link.customer_ref,
        str(link.expires),
        link.signature,
        keys=keys,
        uow=deps["uow"],
        clock=deps["clock"],
    )


def test_a_signed_link_signs_in_once(deps: dict[str, Any], ann: int) -> None:
    link = portal.make_sign_in_link("C1", keys=(KEY,), uow=deps["uow"], clock=deps["clock"])

    assert link_sign_in(deps, link).customer_id == ann
    with pytest.raises(AuthenticationError, match="used already"):
        link_sign_in(deps, link)


def test_used_links_are_forgotten_once_expired(
    deps: dict[str, Any], ann: int, uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    link_sign_in(deps, portal.make_sign_in_link("C1", keys=(KEY,), uow=uow, clock=clock))
    assert len(uow.database.tables.portal_link_uses) == 1

    clock.advance(timedelta(minutes=6))
    link_sign_in(deps, portal.make_sign_in_link("C1", keys=(KEY,), uow=uow, clock=clock))

    assert len(uow.database.tables.portal_link_uses) == 1


def test_a_link_for_an_unknown_or_blocked_customer_is_refused(
    deps: dict[str, Any], ann: int, clock: FakeClock
) -> None:
    expires = int(clock.now.timestamp()) + 60
    with pytest.raises(AuthenticationError, match="no customer C9"):
        link_sign_in(deps, sign_link(KEY, "C9", expires))
    customers.update_customer(
        "C1", {"status": "blocked"}, uow=deps["uow"], clock=clock, actor="alice"
    )
    with pytest.raises(AuthenticationError, match="blocked"):
        link_sign_in(deps, sign_link(KEY, "C1", expires))


def test_a_link_is_refused_without_a_secret_or_under_another_one(
    deps: dict[str, Any], ann: int, clock: FakeClock
) -> None:
    link = sign_link("t" * 40, "C1", int(clock.now.timestamp()) + 60)

    for keys in ((), (KEY,)):
        with pytest.raises(AuthenticationError, match=BAD_LINK):
            link_sign_in(deps, link, keys=keys)


def test_minting_a_link_needs_a_secret_a_known_customer_and_1_to_60_minutes(
    deps: dict[str, Any], ann: int, uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    with pytest.raises(ValidationError, match="VOUCHERS_PORTAL_LINK_KEYS"):
        portal.make_sign_in_link("C1", keys=(), uow=uow, clock=clock)
    for minutes in (0, 61):
        with pytest.raises(ValidationError):
            portal.make_sign_in_link("C1", keys=(KEY,), uow=uow, clock=clock, minutes=minutes)
    with pytest.raises(CustomerNotFoundError):
        portal.make_sign_in_link("C9", keys=(KEY,), uow=uow, clock=clock)

    link = portal.make_sign_in_link("C1", keys=(KEY,), uow=uow, clock=clock, minutes=60)
    assert link.expires == int(clock.now.timestamp()) + 3600


def test_a_new_customer_sees_a_zero_balance_in_the_default_currency(
    deps: dict[str, Any], ann: int, uow: FakeUnitOfWork
) -> None:
    account = portal.portal_account(ann, uow=uow)

    assert account.customer.external_ref == "C1"
    assert [(w.currency, w.paid_minor, w.bonus_minor) for w in account.wallets] == [("EUR", 0, 0)]
    assert account.redemptions == []


def test_a_customer_declares_no_payment_unless_the_operator_allows_top_ups(
    deps: dict[str, Any], ann: int, uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    plain = RedemptionRequest(code="X", customer="C1")
    for asked in (
        RedemptionRequest(code="X", customer="C1", amount="50.00"),
        RedemptionRequest(code="X", customer="C1", payment_reference="PAY-1"),
    ):
        with pytest.raises(PermissionDeniedError, match="top up with your provider"):
            portal.check_customer_request(asked, uow=uow)
    portal.check_customer_request(plain, uow=uow)
    assert portal.portal_account(ann, uow=uow).topups is False

    set_setting("portal_topups", "on", uow=uow, clock=clock, actor="alice")

    portal.check_customer_request(RedemptionRequest(code="X", customer="C1", amount="50"), uow=uow)
    assert portal.portal_account(ann, uow=uow).topups is True
