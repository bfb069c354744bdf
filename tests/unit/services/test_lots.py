"""Creating, reading and listing lots, through fake storage (generation: test_lot_generation)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from support.fakes import FakeClock, FakeUnitOfWork
from vouchers.domain.codes import DIGITS, CodeFormat
from vouchers.domain.lots import MAX_LOT_SIZE, Lot, LotState
from vouchers.domain.voucher_types import ValueOption, VoucherType
from vouchers.errors import (
    CodeFormatError,
    CodeSpaceExhaustedError,
    DuplicateError,
    LotNotFoundError,
    ValidationError,
    VoucherTypeNotFoundError,
)
from vouchers.services import lots, settings

MakeType = Callable[..., VoucherType]
MakeLot = Callable[..., Lot]


def test_a_new_lot_is_a_draft_with_the_types_value_currency_and_default_validity(
    make_type: MakeType, make_lot: MakeLot, uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    voucher_type = make_type(validity_days=30, extra_value_minor=250)

    lot = make_lot(count=100, description="Black Friday")

    assert lot.id is not None
    assert lot.state is LotState.DRAFT
    assert (lot.generated_count, lot.first_number, lot.posted_at) == (0, None, None)
    assert (lot.type_id, lot.count, lot.description) == (voucher_type.id, 100, "Black Friday")
    assert (lot.value_minor, lot.extra_value_minor, lot.currency) == (5000, 250, "EUR")
    assert lot.effective_at == clock.now
    assert lot.expires_at == clock.now + timedelta(days=30)
    assert (lot.created_at, lot.created_by) == (clock.now, "alice")
    assert lots.get_lot(lot.id, uow=uow) == lot


def test_without_an_alternative_code_a_lot_is_named_after_its_type_and_the_lot_counter(
    make_type: MakeType, make_lot: MakeLot
) -> None:
    make_type("PREM")
    make_type("BASIC")

    names = [make_lot("PREM").alternative_code, make_lot("PREM").alternative_code]
    names.append(make_lot("BASIC").alternative_code)

    # One counter for all lots: numbers never repeat, even across types.
    assert names == ["PREM-000001", "PREM-000002", "BASIC-000003"]


def test_a_given_alternative_code_is_trimmed_and_upper_cased(
    make_type: MakeType, make_lot: MakeLot
) -> None:
    make_type()

    lot = make_lot(alternative_code="  summer-2026 ")

    assert lot.alternative_code == "SUMMER-2026"
    assert make_lot().alternative_code == "PREM-000001"  # the counter was not used


def test_a_taken_lot_alternative_code_is_refused(
    make_type: MakeType, make_lot: MakeLot, uow: FakeUnitOfWork
) -> None:
    make_type()
    make_lot(alternative_code="SUMMER")

    with pytest.raises(DuplicateError, match="SUMMER"):
        make_lot(alternative_code="summer")

    assert len(lots.list_lots(uow=uow)) == 1


def test_a_fixed_value_type_gives_its_value_and_refuses_another(
    make_type: MakeType, make_lot: MakeLot
) -> None:
    make_type(value_minor=5000, extra_value_minor=100)

    same = make_lot(value_minor=5000, extra_value_minor=100)
    assert (same.value_minor, same.extra_value_minor) == (5000, 100)
    with pytest.raises(ValidationError, match="fixed value"):
        make_lot(value_minor=6000)
    with pytest.raises(ValidationError, match="fixed extra value"):
        make_lot(extra_value_minor=0)


def test_a_variable_value_type_takes_each_lots_value(
    make_type: MakeType, make_lot: MakeLot
) -> None:
    make_type("VAR", value_option=ValueOption.VARIABLE, value_minor=None)

    lot = make_lot("VAR", value_minor=1234)
    bonus = make_lot("VAR", value_minor=1000, extra_value_minor=200)

    assert (lot.value_minor, lot.extra_value_minor) == (1234, 0)
    assert (bonus.value_minor, bonus.extra_value_minor) == (1000, 200)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "variable value"),
        ({"value_minor": 0}, "variable value"),
        ({"value_minor": -5}, "variable value"),
        ({"value_minor": 100, "extra_value_minor": -1}, "negative"),
    ],
)
def test_a_variable_value_lot_needs_a_positive_value_and_no_negative_extra(
    make_type: MakeType, make_lot: MakeLot, options: dict[str, int], message: str
) -> None:
    make_type("VAR", value_option=ValueOption.VARIABLE, value_minor=None)

    with pytest.raises(ValidationError, match=message):
        make_lot("VAR", **options)


def test_validity_comes_from_the_lot_before_the_type(
    make_type: MakeType, make_lot: MakeLot, clock: FakeClock
) -> None:
    make_type(validity_days=365)
    start = clock.now + timedelta(days=10)
    end = clock.now + timedelta(days=20)

    by_days = make_lot(effective_at=start, validity_days=7)
    by_date = make_lot(effective_at=start, expires_at=end)

    assert (by_days.effective_at, by_days.expires_at) == (start, start + timedelta(days=7))
    assert (by_date.effective_at, by_date.expires_at) == (start, end)


def test_a_lot_of_a_type_without_validity_takes_the_operators_default_expiry_period(
    make_type: MakeType, make_lot: MakeLot, uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    make_type(validity_days=None)
    make_type("TIMED", validity_days=30)
    start = clock.now + timedelta(days=5)

    # 365 days unless the operator says otherwise.
    assert make_lot().expires_at == clock.now + timedelta(days=365)

    settings.set_setting("default_expiry_days", "90", uow=uow, clock=clock, actor="admin")

    assert make_lot(effective_at=start).expires_at == start + timedelta(days=90)
    # The lot's own period or date, and the type's validity, still come first.
    assert make_lot(validity_days=7).expires_at == clock.now + timedelta(days=7)
    assert make_lot(expires_at=start).expires_at == start
    assert make_lot("TIMED").expires_at == clock.now + timedelta(days=30)


@pytest.mark.parametrize("days_after_start", [0, -1])
def test_an_expiry_not_after_the_effective_date_is_refused_and_nothing_is_stored(
    make_type: MakeType,
    make_lot: MakeLot,
    uow: FakeUnitOfWork,
    clock: FakeClock,
    days_after_start: int,
) -> None:
    make_type()
    start = clock.now + timedelta(days=5)

    with pytest.raises(ValidationError, match="after the effective date"):
        make_lot(effective_at=start, expires_at=start + timedelta(days=days_after_start))

    assert uow.database.tables.lots == {}
    assert make_lot().alternative_code == "PREM-000001"  # the counter was rolled back


@pytest.mark.parametrize("count", [0, -3, MAX_LOT_SIZE + 1])
def test_a_lot_size_outside_the_limits_is_refused(
    make_type: MakeType, make_lot: MakeLot, count: int
) -> None:
    make_type()

    with pytest.raises(ValidationError, match="count"):
        make_lot(count=count)


def test_a_lot_that_would_fill_more_than_one_percent_of_the_code_space_is_refused(
    make_type: MakeType, make_lot: MakeLot, uow: FakeUnitOfWork
) -> None:
    make_type(code_format=CodeFormat(alphabet=DIGITS, length=6, allow_weak=True))  # 10**6 codes
    committed = uow.committed

    assert make_lot(count=9_900).count == 9_900
    with pytest.raises(CodeSpaceExhaustedError, match="code space of 1,000,000"):
        make_lot(count=101)

    assert uow.committed == committed + 1
    assert [lot.count for lot in lots.list_lots(uow=uow)] == [9_900]
    assert make_lot(count=100).alternative_code == "PREM-000002"  # the refused lot used none


def test_a_prefix_outside_the_types_alphabet_is_refused(
    make_type: MakeType, make_lot: MakeLot
) -> None:
    make_type(code_format=CodeFormat(alphabet=DIGITS, length=20))

    assert make_lot(prefix="42").prefix == "42"
    with pytest.raises(CodeFormatError, match="prefix"):
        make_lot(prefix="AB")


@pytest.mark.parametrize("ref", ["NOPE", 99])
def test_a_lot_of_an_unknown_type_is_refused(
    make_lot: MakeLot, uow: FakeUnitOfWork, ref: int | str
) -> None:
    with pytest.raises(VoucherTypeNotFoundError):
        make_lot(ref)

    assert uow.committed == 0
    assert uow.database.tables.counters["lot"] == 1


def test_a_type_with_a_long_alternative_code_can_have_lots_with_default_codes(
    make_type: MakeType, make_lot: MakeLot
) -> None:
    long_code = "A" * 32
    make_type(long_code)

    lot = make_lot(long_code)

    assert lot.alternative_code.startswith(long_code[:20])


def test_lots_are_listed_newest_first_and_by_type(
    make_type: MakeType, make_lot: MakeLot, uow: FakeUnitOfWork
) -> None:
    make_type("PREM")
    make_type("BASIC")
    older, other, newer = make_lot("PREM"), make_lot("BASIC"), make_lot("PREM")

    assert lots.list_lots(uow=uow) == [newer, other, older]
    assert lots.list_lots(uow=uow, type_ref="prem") == [newer, older]
    with pytest.raises(VoucherTypeNotFoundError):
        lots.list_lots(uow=uow, type_ref="NOPE")


def test_a_lot_is_found_by_alternative_code_in_any_case_or_not_at_all(
    make_type: MakeType, make_lot: MakeLot, uow: FakeUnitOfWork
) -> None:
    make_type()
    lot = make_lot()

    assert lots.get_lot("prem-000001", uow=uow) == lot
    with pytest.raises(LotNotFoundError):
        lots.get_lot("PREM-000002", uow=uow)


# -- Formerly known bugs, fixed ----------------------------------------------------------


@pytest.mark.parametrize(
    "dates",
    [
        pytest.param({"effective_at": datetime(2027, 1, 1)}, id="naive-start"),
        pytest.param({"expires_at": datetime(2027, 6, 1)}, id="naive-end"),
        pytest.param(
            {"effective_at": datetime(2027, 1, 1), "expires_at": datetime(2027, 6, 1, tzinfo=UTC)},
            id="naive-start-aware-end",
        ),
    ],
)
def test_a_lot_with_naive_dates_is_refused_as_invalid(
    make_type: MakeType, make_lot: MakeLot, dates: dict[str, datetime]
) -> None:
    make_type()

    with pytest.raises(ValidationError):
        make_lot(**dates)


def test_a_lot_validity_of_zero_days_is_refused(make_type: MakeType, make_lot: MakeLot) -> None:
    make_type(validity_days=365)

    with pytest.raises(ValidationError):
        make_lot(validity_days=0)


def test_lots_together_may_not_fill_more_than_one_percent_of_the_code_space(
    make_type: MakeType, make_lot: MakeLot
) -> None:
    make_type(code_format=CodeFormat(alphabet=DIGITS, length=6, allow_weak=True))  # 10**6 codes
    make_lot(count=10_000)

    with pytest.raises(CodeSpaceExhaustedError):
        make_lot(count=10_000)
