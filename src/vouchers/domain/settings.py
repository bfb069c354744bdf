"""Operator-wide settings: their names, defaults and validation.

Settings live in the database (so every process sees the same values) as text, keyed by
name; per-currency settings are keyed ``name.CUR`` (``minimum_amount.EUR``). This module
says which names exist, what each means, how its text is parsed and checked, and what
it is when never set. ``OperatorSettings`` is the parsed, typed view services use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from vouchers.domain.ledger import DebitOrder
from vouchers.domain.money import Money, currency
from vouchers.domain.redemptions import AmountLimits
from vouchers.errors import ValidationError

PER_CURRENCY = frozenset({"minimum_amount", "maximum_amount", "large_redemption_threshold"})


def _positive_int(low: int, high: int) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not re.fullmatch(r"[0-9]{1,12}", text.strip()) or not low <= int(text) <= high:
            raise ValidationError(f"{text!r} is not a whole number from {low} to {high}")
        return str(int(text))

    return parse


def _switch(text: str) -> str:
    word = text.strip().lower()
    if word in {"on", "true", "yes", "1"}:
        return "on"
    if word in {"off", "false", "no", "0"}:
        return "off"
    raise ValidationError(f"{text!r} is not on or off")


def _currency_code(text: str) -> str:
    return currency(text.strip()).code


def _debit_order(text: str) -> str:
    try:
        return DebitOrder(text.strip().lower()).value
    except ValueError:
        choices = ", ".join(order.value for order in DebitOrder)
        raise ValidationError(f"debit order is one of {choices}, not {text!r}") from None


@dataclass(frozen=True)
class Definition:
    """One setting: its default (as text), what it means, and its parser."""

    default: str | None
    help: str
    parse: Callable[[str], str]


DEFINITIONS: dict[str, Definition] = {
    "default_currency": Definition("EUR", "currency of new voucher types", _currency_code),
    "minimum_amount": Definition(None, "smallest amount a redemption may deposit", str),
    "maximum_amount": Definition(None, "largest amount a redemption may deposit", str),
    "large_redemption_threshold": Definition(
        None, "redemptions of at least this much raise a staff alert", str
    ),
    "default_expiry_days": Definition(
        "365", "validity of new lots whose type sets none", _positive_int(1, 36500)
    ),
    "reversal_window_days": Definition(
        "30", "how long after a redemption finance may reverse it", _positive_int(0, 3650)
    ),
    "debit_order": Definition(
        DebitOrder.BONUS_FIRST.value, "which balance a wallet debit spends first", _debit_order
    ),
    "lockout_window_minutes": Definition(
        "60", "sliding window in which failed attempts are counted", _positive_int(1, 10080)
    ),
    "lockout_guesses_per_customer": Definition(
        "10", "unknown codes one customer may try per window", _positive_int(1, 100000)
    ),
    "lockout_guesses_per_caller": Definition(
        "100", "unknown codes one API key or session may try per window", _positive_int(1, 10**6)
    ),
    "lockout_guesses_per_address": Definition(
        "30", "unknown codes one client address may try per window", _positive_int(1, 10**6)
    ),
    "lockout_typos_per_customer": Definition(
        "50",
        "mistyped codes (failed check character) per customer per window",
        _positive_int(1, 10**6),
    ),
    "export_retention_days": Definition(
        "7", "days an export file stays downloadable before it is deleted", _positive_int(0, 3650)
    ),
    "export_four_eyes": Definition(
        "on", "a second finance user approves every export of secrets (on/off)", _switch
    ),
    "portal_topups": Definition(
        "off",
        "customers may type a top-up amount in the portal, credited as paid (on/off)",
        _switch,
    ),
    "guess_alert_per_window": Definition(
        "1000",
        "unknown codes across all customers per window that raise an alert",
        _positive_int(1, 10**9),
    ),
}


def setting_key(name: str, currency_code: str | None = None) -> str:
    """The stored key of a setting (``minimum_amount.EUR`` for per-currency ones)."""
    return name if currency_code is None else f"{name}.{currency_code}"


def normalise(key: str, value: str) -> tuple[str, str | None]:
    """Check ``key`` and ``value``; return them as stored (value None: back to the default).

    Per-currency amounts may be given as ``minimum_amount.EUR 10.00`` or ``minimum_amount
    "10.00 EUR"``. ``none`` (or an empty value) clears a setting. Raises ValidationError.
    """
    key = key.strip()
    name, _, code = key.partition(".")
    if name not in DEFINITIONS:
        raise ValidationError(f"unknown setting {key!r}; known: {', '.join(sorted(DEFINITIONS))}")
    cleared = value.strip().lower() in {"", "none"}
    if name in PER_CURRENCY:
        if cleared:
            if not code:
                raise ValidationError(f"say which currency: {name}.EUR none")
            return setting_key(name, currency(code).code), None
        money = Money.parse(value, default_currency=currency(code) if code else None)
        if code and money.currency.code != currency(code).code:
            raise ValidationError(f"{key} is in {currency(code).code}, not {money.currency.code}")
        if money.minor <= 0:
            raise ValidationError(f"{key} must be above zero")
        return setting_key(name, money.currency.code), str(money.amount)
    if code:
        raise ValidationError(f"{name} is not set per currency")
    if cleared:
        return name, None
    return name, DEFINITIONS[name].parse(value)


@dataclass(frozen=True)
class OperatorSettings:
    """The settings as typed values; built from the stored text by :meth:`from_stored`."""

    values: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_stored(cls, stored: Mapping[str, str]) -> OperatorSettings:
        return cls(dict(stored))

    def text(self, key: str) -> str | None:
        """The stored text of ``key``, or its default."""
        if key in self.values:
            return self.values[key]
        return DEFINITIONS[key.partition(".")[0]].default

    def number(self, name: str) -> int:
        text = self.text(name)
        assert text is not None, name
        return int(text)

    def amount(self, name: str, currency_code: str) -> int | None:
        """A per-currency amount in minor units, or None when not set."""
        text = self.text(setting_key(name, currency_code))
        return None if text is None else Money.of(text, currency_code).minor

    def limits(self, currency_code: str) -> AmountLimits:
        return AmountLimits(
            self.amount("minimum_amount", currency_code),
            self.amount("maximum_amount", currency_code),
        )

    def switch(self, name: str) -> bool:
        """An on/off setting."""
        return self.text(name) == "on"

    @property
    def debit_order(self) -> DebitOrder:
        return DebitOrder(self.text("debit_order") or DebitOrder.BONUS_FIRST)

    def effective(self) -> dict[str, str | None]:
        """Every setting with its value, defaults included, for ``settings show``."""
        shown: dict[str, str | None] = {
            name: self.text(name) for name in DEFINITIONS if name not in PER_CURRENCY
        }
        for key in sorted(k for k in self.values if k.partition(".")[0] in PER_CURRENCY):
            shown[key] = self.values[key]
        return dict(sorted(shown.items()))
