"""Money: ISO 4217 exponents, exact parsing and printing, same-currency arithmetic, rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vouchers.domain.money import Currency, Money, currency, format_minor
from vouchers.errors import AmountError, CurrencyError

EUR = currency("EUR")
USD = currency("USD")


def eur(text: str) -> Money:
    return Money.of(text, "EUR")


@pytest.mark.parametrize(("code", "exponent"), [("JPY", 0), ("USD", 2), ("EUR", 2), ("KWD", 3)])
def test_a_currency_carries_its_iso_4217_exponent(code: str, exponent: int) -> None:
    assert currency(code).exponent == exponent
    assert currency(code).code == code


def test_currency_codes_are_case_insensitive_and_cached() -> None:
    assert currency("eur") is currency("EUR")
    assert currency("Eur").name == "Euro"
    assert currency(EUR) is EUR


@pytest.mark.parametrize("code", ["XYZ", "XAU", "XXX", "XTS", "EURO", "", "E1R"])
def test_an_unknown_currency_or_one_without_minor_units_is_refused(code: str) -> None:
    with pytest.raises(CurrencyError, match="unknown currency"):
        currency(code)


def test_the_refusal_names_the_code() -> None:
    with pytest.raises(CurrencyError) as caught:
        currency("XYZ")
    assert caught.value.message == "unknown currency 'XYZ'"


@pytest.mark.parametrize(
    ("minor", "code", "expected"),
    [(1250, "EUR", "12.50 EUR"), (1000, "jpy", "1000 JPY"), (1500, "KWD", "1.500 KWD"),
     (-5, "USD", "-0.05 USD")],
)  # fmt: skip
def test_every_way_in_formats_minor_units_the_same_way(
    minor: int, code: str, expected: str
) -> None:
    assert format_minor(minor, code) == expected == Money(minor, currency(code)).format()
    with pytest.raises(CurrencyError):
        format_minor(minor, "XYZ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.50 EUR", "12.50 EUR"),
        ("EUR 12.50", "12.50 EUR"),
        ("12.5 eur", "12.50 EUR"),
        ("  12.50EUR ", "12.50 EUR"),
        ("1000 JPY", "1000 JPY"),
        ("1.5 KWD", "1.500 KWD"),
        ("0.001 KWD", "0.001 KWD"),
        ("-3 usd", "-3.00 USD"),
        ("USD -0.05", "-0.05 USD"),
        ("12.500 EUR", "12.50 EUR"),
        ("007 EUR", "7.00 EUR"),
    ],
)
def test_amounts_are_parsed_from_the_usual_spellings(text: str, expected: str) -> None:
    assert str(Money.parse(text)) == expected


def test_a_bare_number_takes_the_default_currency() -> None:
    assert Money.parse("12.50", default_currency="eur") == Money(1250, EUR)
    assert Money.parse("12.50 USD", default_currency="EUR") == Money(1250, USD)


def test_a_bare_number_without_a_default_currency_is_refused() -> None:
    with pytest.raises(AmountError, match="names no currency"):
        Money.parse("12.50")


def test_more_decimals_than_the_currency_has_are_refused_with_the_exponent_named() -> None:
    with pytest.raises(AmountError, match=r"EUR allows \(2\)"):
        Money.parse("12.345 EUR")
    with pytest.raises(AmountError, match=r"JPY allows \(0\)"):
        Money.parse("1000.5 JPY")
    with pytest.raises(AmountError, match=r"KWD allows \(3\)"):
        Money.of("1.0001", "KWD")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "EUR",
        "twelve EUR",
        "NaN EUR",
        "Infinity EUR",
        "1e3 EUR",
        "1E3 EUR",
        "1,000 EUR",
        "1 000 EUR",
        "1_000 EUR",
        "12,50 EUR",
        ".5 EUR",
        "5. EUR",
        "+5 EUR",
        "--5 EUR",
        "5 EUR EUR",
        "٣ EUR",
        "1" * 31 + " EUR",
    ],
)
def test_garbage_is_not_an_amount(text: str) -> None:
    with pytest.raises(AmountError):
        Money.parse(text)


def test_an_unknown_currency_in_text_is_a_currency_error() -> None:
    with pytest.raises(CurrencyError):
        Money.parse("12.50 XYZ")


@given(
    minor=st.integers(min_value=-(10**15), max_value=10**15),
    code=st.sampled_from(["JPY", "USD", "EUR", "KWD", "BHD", "CLF"]),
)
def test_formatting_and_parsing_round_trip(minor: int, code: str) -> None:
    money = Money(minor, currency(code))
    assert Money.parse(str(money)) == money
    assert Money.parse(money.format()) == money
    assert Money.of(money.amount, code) == money
    assert Money.parse(f"{code.lower()} {money.amount}") == money


def test_printing_always_shows_the_currency_s_decimals() -> None:
    assert str(Money(100000, currency("JPY"))) == "100000 JPY"
    assert str(Money(1500, currency("KWD"))) == "1.500 KWD"
    assert str(Money(5, USD)) == "0.05 USD"
    assert str(Money(-5, USD)) == "-0.05 USD"
    assert str(Money.zero("EUR")) == "0.00 EUR"
    assert repr(Money(1250, EUR)) == "Money('12.50 EUR')"


def test_the_amount_is_an_exact_decimal_in_major_units() -> None:
    assert Money(1250, EUR).amount == Decimal("12.50")
    assert str(Money(1250, EUR).amount) == "12.50"
    assert str(Money(-1, currency("KWD")).amount) == "-0.001"
    assert str(Money(10**40 + 1, EUR).amount) == "1" + "0" * 38 + ".01"  # beyond Decimal's 28


def test_money_of_takes_major_units_as_text_int_or_decimal() -> None:
    assert Money.of("12.50", "EUR") == Money(1250, EUR)
    assert Money.of(12, "EUR") == Money(1200, EUR)
    assert Money.of(Decimal("12.5"), EUR) == Money(1250, EUR)
    assert Money.of(Decimal("1.5E+2"), "JPY") == Money(150, currency("JPY"))
    assert Money.of(-3, "USD") == Money(-300, USD)


@pytest.mark.parametrize("amount", [12.5, Decimal("NaN"), Decimal("Infinity"), "1e3", True, None])
def test_money_of_refuses_floats_and_non_numbers(amount: object) -> None:
    with pytest.raises(AmountError):
        Money.of(amount, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("minor", [12.5, 1.0, True, "1250", Decimal(1250)])
def test_minor_units_must_be_an_int(minor: object) -> None:
    with pytest.raises(AmountError):
        Money(minor, EUR)  # type: ignore[arg-type]


def test_the_currency_must_be_a_currency() -> None:
    with pytest.raises(CurrencyError):
        Money(1250, "EUR")  # type: ignore[arg-type]


def test_money_of_one_currency_adds_subtracts_and_compares() -> None:
    a, b = eur("12.50"), eur("0.75")
    assert a + b == eur("13.25")
    assert a - b == eur("11.75")
    assert b - a == eur("-11.75")
    assert -a == eur("-12.50")
    assert b < a
    assert b <= a
    assert a <= eur("12.50")
    assert a > b
    assert a >= b
    assert max(a, b) == a


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_mixing_currencies_is_refused(operation: object) -> None:
    with pytest.raises(CurrencyError) as caught:
        operation(eur("1"), Money.of("1", "USD"))  # type: ignore[operator]
    assert caught.value.message == "currency mismatch EUR vs USD"


def test_money_of_different_currencies_is_never_equal() -> None:
    assert Money(100, EUR) != Money(100, USD)
    assert Money.zero("EUR") != Money.zero("USD")


def test_money_does_not_mix_with_plain_numbers() -> None:
    with pytest.raises(TypeError):
        eur("1") + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        eur("1") < 2  # type: ignore[operator]  # noqa: B015


def test_zero_is_false_and_negative_amounts_say_so() -> None:
    assert not Money.zero("EUR")
    assert eur("0.01")
    assert eur("-0.01").is_negative
    assert not eur("0").is_negative
    assert not eur("0.01").is_negative


@pytest.mark.parametrize(
    ("amount", "factor", "expected"),
    [
        ("10.05", "0.1", "1.00"),  # 1.005: the tie goes to the even cent
        ("10.15", "0.1", "1.02"),  # 1.015: the tie goes to the even cent
        ("0.25", "0.1", "0.02"),
        ("0.35", "0.1", "0.04"),
        ("10.06", "0.1", "1.01"),  # 1.006: not a tie, nearest
        ("10.04", "0.1", "1.00"),
        ("-10.05", "0.1", "-1.00"),
        ("-10.15", "0.1", "-1.02"),
        ("50.00", "1", "50.00"),
        ("33.33", "0.333", "11.10"),
    ],
)
def test_scaling_rounds_half_to_even_at_the_minor_unit(
    amount: str, factor: str, expected: str
) -> None:
    assert eur(amount).scale(Decimal(factor)) == eur(expected)


def test_scaling_by_an_int_is_exact_and_a_float_is_refused() -> None:
    assert eur("12.50").scale(2) == eur("25.00")
    with pytest.raises(AmountError):
        eur("12.50").scale(0.1)  # type: ignore[arg-type]
    with pytest.raises(AmountError):
        eur("12.50").scale(Decimal("NaN"))


def test_scaling_keeps_the_currency_s_minor_unit() -> None:
    kwd = currency("KWD")
    assert Money(1005, kwd).scale(Decimal("0.5")) == Money(502, kwd)  # 502.5 → 502
    jpy = currency("JPY")
    assert Money(15, jpy).scale(Decimal("0.1")) == Money(2, jpy)  # 1.5 → 2


@given(
    minor=st.integers(min_value=-(10**12), max_value=10**12),
    factor=st.decimals(min_value=-1000, max_value=1000, places=4, allow_nan=False),
)
def test_scaling_agrees_with_decimal_half_even_rounding(minor: int, factor: Decimal) -> None:
    with localcontext() as context:
        context.prec = 60
        expected = (Decimal(minor) * factor).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    assert Money(minor, EUR).scale(factor) == Money(int(expected), EUR)


def test_a_currency_prints_as_its_code() -> None:
    assert str(EUR) == "EUR"
    assert isinstance(EUR, Currency)
