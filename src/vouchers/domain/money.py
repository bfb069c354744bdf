"""Currencies and money: ISO 4217 codes and integer amounts in minor units, never floats.

A :class:`Currency` carries its ISO 4217 exponent (JPY 0, USD 2, KWD 3), looked up with
:func:`currency`. A :class:`Money` is an ``int`` count of minor units in one currency; it is
parsed from text (``"12.50 EUR"``), built from major units (:meth:`Money.of`), printed with
exactly the currency's number of decimals, added, subtracted and compared only within one
currency, and scaled by a decimal factor with half-even rounding to the minor unit (the
rounding used for multiplier bonuses). Every conversion is exact or refused.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import iso4217

from vouchers.errors import AmountError, CurrencyError

# Amounts larger than this many integer (or fractional) digits are refused as input: no
# voucher business needs them, and they would make parsing cost grow without bound.
_MAX_DIGITS = 30

_NUMBER = (
    rf"(?P<sign>-)?(?P<units>[0-9]{{1,{_MAX_DIGITS}}})(?:\.(?P<fraction>[0-9]{{1,{_MAX_DIGITS}}}))?"
)
_CODE = r"(?P<code>[A-Za-z]{3})"
_AMOUNT_THEN_CODE = re.compile(rf"\s*{_NUMBER}\s*{_CODE}\s*")
_CODE_THEN_AMOUNT = re.compile(rf"\s*{_CODE}\s*{_NUMBER}\s*")
_AMOUNT_ONLY = re.compile(rf"\s*{_NUMBER}\s*")


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency: its alphabetic code, its exponent (number of minor-unit digits)
    and its English name. Build one with :func:`currency`."""

    code: str
    exponent: int
    name: str

    def __str__(self) -> str:
        return self.code


@functools.cache
def _lookup(code: str) -> Currency:
    try:
        entry = iso4217.Currency(code)
    except ValueError:
        raise CurrencyError(f"unknown currency {code!r}") from None
    exponent = entry.exponent
    if exponent is None:
        # Gold, test and "no currency" codes (XAU, XTS, XXX) have no minor unit to count in.
        raise CurrencyError(f"unknown currency {code!r}")
    return Currency(code=entry.code, exponent=exponent, name=entry.currency_name)


def currency(code: str | Currency) -> Currency:
    """Return the ISO 4217 currency for ``code``, case-insensitively (``"eur"`` is EUR).

    A :class:`Currency` is returned unchanged. Raises :class:`CurrencyError` for a code that
    is not in the ISO 4217 table, or that has no minor unit (XAU, XXX and the like).
    """
    if isinstance(code, Currency):
        return code
    if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z]{3}", code):
        raise CurrencyError(f"unknown currency {str(code)[:20]!r}")
    return _lookup(code.upper())


_currency = currency  # for methods whose ``currency`` parameter shadows the function


def _exact_minor(value: Decimal, unit: Currency) -> int:
    """Convert a major-unit decimal to minor units, refusing anything that would round."""
    if not value.is_finite():
        raise AmountError(f"{value} is not an amount")
    if value.adjusted() >= _MAX_DIGITS:
        raise AmountError(f"{value} is too large an amount")
    scaled = Fraction(value) * 10**unit.exponent
    if scaled.denominator != 1:
        raise AmountError(f"{value} has more decimals than {unit.code} allows ({unit.exponent})")
    return int(scaled.numerator)


def _number(match: re.Match[str], unit: Currency) -> int:
    """Minor units of a matched ``-123.45`` in ``unit``; trailing zeros beyond the exponent
    are accepted because they change nothing, other extra digits are refused."""
    fraction = match["fraction"] or ""
    text = f"{match['units']}.{fraction}" if fraction else match["units"]
    minor = _exact_minor(Decimal(text), unit)
    return -minor if match["sign"] else minor


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of one currency as an integer number of minor units (cents, fils, yen).

    ``Money(1250, currency("EUR"))`` is 12.50 EUR. Raises :class:`AmountError` when
    ``minor`` is not an ``int`` (a float is always refused) and :class:`CurrencyError` when
    ``currency`` is not a :class:`Currency`.
    """

    minor: int
    currency: Currency

    def __post_init__(self) -> None:
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise AmountError(
                f"an amount is a whole number of minor units, not {type(self.minor).__name__}"
            )
        if not isinstance(self.currency, Currency):
            raise CurrencyError(f"{self.currency!r} is not a currency")

    @classmethod
    def parse(cls, text: str, default_currency: str | Currency | None = None) -> Money:
        """Parse ``"12.50 EUR"``, ``"EUR 12.50"``, ``"12.5 eur"``, ``"1000 JPY"`` or ``"-3 USD"``;
        a bare ``"12.50"`` takes ``default_currency``.

        The decimal point is ``.``; thousands separators, exponents, ``NaN`` and a ``+`` sign
        are refused, and a leading ``-`` gives a negative amount (callers decide whether
        that is allowed). Raises :class:`AmountError` for text that is not an amount, for a
        bare number without a default currency, and for more decimals than the currency
        has (``"12.345 EUR"``); raises :class:`CurrencyError` for an unknown currency.
        """
        if not isinstance(text, str):
            raise AmountError(f"{text!r} is not an amount")
        for pattern in (_AMOUNT_THEN_CODE, _CODE_THEN_AMOUNT):
            match = pattern.fullmatch(text)
            if match:
                unit = currency(match["code"])
                return cls(_number(match, unit), unit)
        match = _AMOUNT_ONLY.fullmatch(text)
        if match is None:
            raise AmountError(f"{text[:40]!r} is not an amount such as '12.50 EUR'")
        if default_currency is None:
            raise AmountError(f"{text[:40]!r} names no currency")
        unit = currency(default_currency)
        return cls(_number(match, unit), unit)

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str | Currency) -> Money:
        """Build money from an amount in major units: ``Money.of("12.50", "EUR")``,
        ``Money.of(1000, "JPY")``, ``Money.of(Decimal("1.5"), "KWD")``.

        Raises :class:`AmountError` for a float, a non-finite decimal, unparsable text or
        more decimals than the currency has; :class:`CurrencyError` for an unknown currency.
        """
        unit = _currency(currency)
        if isinstance(amount, bool) or not isinstance(amount, str | int | Decimal):
            raise AmountError(
                f"an amount is text, an int or a Decimal, not {type(amount).__name__}"
            )
        if isinstance(amount, str):
            match = _AMOUNT_ONLY.fullmatch(amount)
            if match is None:
                raise AmountError(f"{amount[:40]!r} is not an amount")
            return cls(_number(match, unit), unit)
        if isinstance(amount, int):
            return cls(amount * 10**unit.exponent, unit)
        return cls(_exact_minor(amount, unit), unit)

    @classmethod
    def zero(cls, currency: str | Currency) -> Money:
        """Nothing, in ``currency``. Raises :class:`CurrencyError` for an unknown currency."""
        return cls(0, _currency(currency))

    @property
    def amount(self) -> Decimal:
        """The amount in major units, exactly, with the currency's number of decimals."""
        digits = tuple(int(d) for d in str(abs(self.minor)))
        return Decimal((1 if self.minor < 0 else 0, digits, -self.currency.exponent))

    @property
    def is_negative(self) -> bool:
        """Whether the amount is below zero."""
        return self.minor < 0

    def format(self) -> str:
        """The amount with exactly the currency's decimals and its code: ``"12.50 EUR"``,
        ``"1000 JPY"``, ``"1.500 KWD"``, ``"-0.05 USD"``."""
        sign = "-" if self.minor < 0 else ""
        exponent = self.currency.exponent
        units, cents = divmod(abs(self.minor), 10**exponent)
        number = f"{units}.{cents:0{exponent}d}" if exponent else f"{units}"
        return f"{sign}{number} {self.currency.code}"

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return f"Money({self.format()!r})"

    def __bool__(self) -> bool:
        return self.minor != 0

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyError(f"currency mismatch {self.currency.code} vs {other.currency.code}")

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.minor >= other.minor

    def scale(self, factor: Decimal | int) -> Money:
        """Multiply by ``factor`` and round to the currency's minor unit, half to even.

        The product is computed exactly, then a remainder of exactly half a minor unit goes
        to the even neighbour and anything else to the nearest one (banker's rounding, so
        ties do not bias totals upward): a top-up of 10.05 EUR * 0.1 = 1.005 gives 1.00 EUR,
        10.15 EUR * 0.1 = 1.015 gives 1.02 EUR, 0.25 EUR * 0.1 = 0.025 gives 0.02 EUR.
        Raises :class:`AmountError` for a float or a non-finite factor.
        """
        if isinstance(factor, bool) or not isinstance(factor, int | Decimal):
            raise AmountError(f"a factor is an int or a Decimal, not {type(factor).__name__}")
        if isinstance(factor, Decimal) and (
            not factor.is_finite() or factor.adjusted() >= _MAX_DIGITS
        ):
            raise AmountError(f"{factor} is not a usable factor")
        # round() of a Fraction rounds half to even, exactly.
        return Money(round(Fraction(factor) * self.minor), self.currency)


def format_minor(minor: int, code: str | Currency) -> str:
    """``minor`` units of ``code`` as every way in shows an amount: ``format_minor(1250,
    "EUR")`` is ``"12.50 EUR"`` (see :meth:`Money.format`). Raises :class:`CurrencyError`
    for an unknown currency, :class:`AmountError` when ``minor`` is not an ``int``."""
    return Money(minor, currency(code)).format()
