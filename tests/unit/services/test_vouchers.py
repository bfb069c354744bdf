"""Reading vouchers: by number, a page of a lot, by typed code; masked codes, derived expiry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.fakes import FakeClock, FakeUnitOfWork
from vouchers.adapters.keys import CodeVault
from vouchers.domain.codes import DIGITS, MASK_SYMBOL, CodeFormat, custom_alphabet
from vouchers.domain.lots import Lot
from vouchers.domain.voucher_types import VoucherType
from vouchers.domain.vouchers import VoucherState
from vouchers.errors import LotNotFoundError, VoucherNotFoundError
from vouchers.services import lots, vouchers

MakeType = Callable[..., VoucherType]
MakeLot = Callable[..., Lot]


@pytest.fixture
def codes(
    make_type: MakeType, make_lot: MakeLot, uow: FakeUnitOfWork, vault: CodeVault, clock: FakeClock
) -> dict[int, str]:
    """Lot PREM-000001 of 12 auto-activated vouchers, generated; their codes by number."""
    make_type(auto_activate=True, validity_days=30)
    lots.generate_lot(
        make_lot(count=12).alternative_code, uow=uow, vault=vault, clock=clock, actor="maker"
    )
    return uow.database.clear_codes(vault)


def test_a_voucher_shows_only_the_tail_of_its_code_grouped_for_display(
    codes: dict[int, str], uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    view = vouchers.get_voucher(3, uow=uow, clock=clock)

    code = codes[3]
    assert view.voucher.number == 3
    assert view.masked_code == "••••-••••-••••-•" + code[-4:]
    assert view.masked_code.replace("-", "") == MASK_SYMBOL * (len(code) - 4) + code[-4:]
    assert not any(ch in view.masked_code[:-4] for ch in set(code[:-4]))


def test_a_lot_with_a_prefix_masks_the_prefix_too(
    make_type: MakeType, make_lot: MakeLot, uow: FakeUnitOfWork, vault: CodeVault, clock: FakeClock
) -> None:
    make_type(code_format=CodeFormat(alphabet=DIGITS, length=20, group_size=5))
    lots.generate_lot(
        make_lot(count=1, prefix="77").alternative_code,
        uow=uow,
        vault=vault,
        clock=clock,
        actor="maker",
    )
    (code,) = uow.database.clear_codes(vault).values()

    view = vouchers.get_voucher(1, uow=uow, clock=clock)

    assert code.startswith("77")
    # 2 + 20 + 1 characters in groups of five: the prefix is hidden like the secret.
    assert view.masked_code == "•••••-•••••-•••••-••••" + code[-4] + "-" + code[-3:]


def test_an_unknown_voucher_number_is_not_found(uow: FakeUnitOfWork, clock: FakeClock) -> None:
    with pytest.raises(VoucherNotFoundError):
        vouchers.get_voucher(1, uow=uow, clock=clock)


def test_vouchers_are_paged_in_number_order_after_a_given_number(
    codes: dict[int, str], uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    first = vouchers.list_vouchers(uow=uow, clock=clock, lot_ref="prem-000001", limit=5)
    second = vouchers.list_vouchers(uow=uow, clock=clock, after=first[-1].voucher.number, limit=5)

    assert [v.voucher.number for v in first + second] == list(range(1, 11))
    assert all(
        v.masked_code and v.masked_code.endswith(codes[v.voucher.number][-4:]) for v in first
    )


def test_a_page_of_another_lot_holds_only_its_vouchers(
    codes: dict[int, str],
    make_lot: MakeLot,
    uow: FakeUnitOfWork,
    vault: CodeVault,
    clock: FakeClock,
) -> None:
    other = make_lot(count=3)
    lots.generate_lot(other.alternative_code, uow=uow, vault=vault, clock=clock, actor="maker")

    page = vouchers.list_vouchers(uow=uow, clock=clock, lot_ref=other.alternative_code)

    assert [v.voucher.number for v in page] == [13, 14, 15]
    with pytest.raises(LotNotFoundError):
        vouchers.list_vouchers(uow=uow, clock=clock, lot_ref="NOPE")


def test_an_activated_voucher_past_its_expiry_shows_as_expired_without_being_changed(
    codes: dict[int, str], uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    # Given vouchers that expire 30 days from now; voucher 2 is used, voucher 3 a draft
    uow.database.put(2, state=VoucherState.USED)
    uow.database.put(3, state=VoucherState.DRAFT)
    just_before = vouchers.get_voucher(
        1, uow=uow, clock=FakeClock(clock.now + timedelta(days=30) - timedelta(seconds=1))
    )

    # When they are read once the expiry has come
    clock.advance(timedelta(days=30))
    page = vouchers.list_vouchers(uow=uow, clock=clock, limit=3)

    # Then only the activated one shows as expired, and storage still says activated
    assert just_before.state is VoucherState.ACTIVATED
    assert [v.state for v in page] == [VoucherState.EXPIRED, VoucherState.USED, VoucherState.DRAFT]
    assert page[0].voucher.state is VoucherState.ACTIVATED
    assert uow.database.rows()[0].voucher.state is VoucherState.ACTIVATED


@pytest.mark.parametrize(
    "retype",
    [
        pytest.param(lambda c: c, id="canonical"),
        pytest.param(str.lower, id="lower-case"),
        pytest.param(lambda c: "-".join(c[i : i + 4] for i in range(0, len(c), 4)), id="dashes"),
        pytest.param(lambda c: f"  {c[:8]} {c[8:]}\t", id="spaces"),
        pytest.param(lambda c: c.replace("0", "O").replace("1", "l"), id="look-alikes"),
    ],
)
def test_a_voucher_is_found_by_its_code_however_it_is_typed(
    codes: dict[int, str],
    uow: FakeUnitOfWork,
    vault: CodeVault,
    clock: FakeClock,
    retype: Callable[[str], str],
) -> None:
    for number, code in codes.items():
        found = vouchers.find_voucher_by_code(retype(code), uow=uow, vault=vault, clock=clock)
        assert found.voucher.number == number
        assert found.masked_code is not None
        assert found.masked_code.endswith(code[-4:])


def test_a_code_that_differs_in_one_character_is_not_found(
    codes: dict[int, str], uow: FakeUnitOfWork, vault: CodeVault, clock: FakeClock
) -> None:
    code = codes[1]
    typo = code[:5] + ("X" if code[5] != "X" else "Y") + code[6:]

    with pytest.raises(VoucherNotFoundError):
        vouchers.find_voucher_by_code(typo, uow=uow, vault=vault, clock=clock)


def _typed(draw: st.DrawFn, code: str) -> str:
    """``code`` as a person might type it: any case, look-alikes, separators anywhere."""
    variants = {"0": "0Oo", "1": "1IiLl"}
    out = []
    for ch in code:
        out.append(draw(st.sampled_from(variants.get(ch, ch + ch.lower()))))
        out.append(draw(st.sampled_from(["", "", "", "-", " ", ".", "_"])))
    return "".join(out)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_typing_of_a_code_finds_its_voucher(
    data: st.DataObject,
    codes: dict[int, str],
    uow: FakeUnitOfWork,
    vault: CodeVault,
    clock: FakeClock,
) -> None:
    number = data.draw(st.sampled_from(sorted(codes)), label="number")
    typed = data.draw(st.composite(lambda draw: _typed(draw, codes[number]))(), label="typed")

    found = vouchers.find_voucher_by_code(typed, uow=uow, vault=vault, clock=clock)

    assert found.voucher.number == number


def test_a_digits_code_typed_with_the_letter_o_is_found(
    make_type: MakeType, make_lot: MakeLot, uow: FakeUnitOfWork, vault: CodeVault, clock: FakeClock
) -> None:
    make_type(code_format=CodeFormat(alphabet=DIGITS, length=20))
    lots.generate_lot(
        make_lot(count=20).alternative_code, uow=uow, vault=vault, clock=clock, actor="maker"
    )

    for number, code in uow.database.clear_codes(vault).items():
        typed = code.replace("0", "o").replace("1", "I")
        assert (
            vouchers.find_voucher_by_code(typed, uow=uow, vault=vault, clock=clock).voucher.number
            == number
        )


def test_a_custom_alphabet_code_typed_with_a_unicode_dash_is_found(
    make_type: MakeType, make_lot: MakeLot, uow: FakeUnitOfWork, vault: CodeVault, clock: FakeClock
) -> None:
    code_format = CodeFormat(alphabet=custom_alphabet("ACDEFGHIJKMNOPQRTWXY"), length=16)
    make_type(code_format=code_format)
    lots.generate_lot(
        make_lot(count=1).alternative_code,
        uow=uow,
        vault=vault,
        clock=clock,
        actor="maker",
        randbytes=lambda n: b"\x0c" * n,  # symbol 12: every secret character is O
    )
    (code,) = uow.database.clear_codes(vault).values()
    typed = code_format.display(code).replace("-", "\u2010")
    assert code_format.normalize(typed) == code

    found = vouchers.find_voucher_by_code(typed, uow=uow, vault=vault, clock=clock)

    assert found.voucher.number == 1
