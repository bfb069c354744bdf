"""Operator settings (names, parsing, per-currency forms, defaults) and lock-out back-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vouchers.domain.attempts import (
    GLOBAL,
    MAX_LOCKOUT,
    STRIKE_MEMORY,
    AttemptKind,
    Limit,
    Lockout,
    Scope,
    Subject,
    next_lockout,
)
from vouchers.domain.ledger import DebitOrder
from vouchers.domain.redemptions import AmountLimits
from vouchers.domain.settings import (
    DEFINITIONS,
    PER_CURRENCY,
    OperatorSettings,
    normalise,
    setting_key,
)
from vouchers.errors import AmountError, CurrencyError, ValidationError

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

# -- normalise: every setting ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "stored"),
    [
        ("default_currency", "eur", "EUR"),
        ("default_currency", " JPY ", "JPY"),
        ("default_expiry_days", "30", "30"),
        ("default_expiry_days", " 007 ", "7"),
        ("default_expiry_days", "36500", "36500"),
        ("reversal_window_days", "0", "0"),
        ("reversal_window_days", "3650", "3650"),
        ("debit_order", "paid_first", "paid_first"),
        ("debit_order", " BONUS_FIRST ", "bonus_first"),
        ("lockout_window_minutes", "1", "1"),
        ("lockout_window_minutes", "10080", "10080"),
        ("lockout_guesses_per_customer", "10", "10"),
        ("lockout_guesses_per_customer", "100000", "100000"),
        ("lockout_guesses_per_caller", "1000000", "1000000"),
        ("lockout_guesses_per_address", "30", "30"),
        ("lockout_typos_per_customer", "50", "50"),
        ("guess_alert_per_window", "1000000000", "1000000000"),
        (" debit_order ", "paid_first", "paid_first"),
    ],
)
def test_each_plain_setting_is_parsed_to_its_stored_text(key: str, value: str, stored: str) -> None:
    assert normalise(key, value) == (key.strip(), stored)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("default_currency", "XYZ"),
        ("default_currency", "euro"),
        ("default_expiry_days", "0"),
        ("default_expiry_days", "36501"),
        ("default_expiry_days", "-1"),
        ("default_expiry_days", "1.5"),
        ("default_expiry_days", "ten"),
        ("reversal_window_days", "3651"),
        ("debit_order", "random"),
        ("debit_order", "bonus-first"),
        ("lockout_window_minutes", "0"),
        ("lockout_window_minutes", "10081"),
        ("lockout_guesses_per_customer", "0"),
        ("lockout_guesses_per_customer", "100001"),
        ("lockout_guesses_per_caller", "1000001"),
        ("lockout_guesses_per_address", "0"),
        ("lockout_typos_per_customer", "1000001"),
        ("guess_alert_per_window", "1000000001"),
    ],
)
def test_a_bad_value_of_a_plain_setting_is_refused(key: str, value: str) -> None:
    with pytest.raises(ValidationError):
        normalise(key, value)


def test_the_refusal_of_a_number_names_its_range() -> None:
    with pytest.raises(ValidationError, match="from 1 to 36500"):
        normalise("default_expiry_days", "0")


def test_the_refusal_of_a_debit_order_lists_the_choices() -> None:
    with pytest.raises(ValidationError, match="bonus_first, paid_first"):
        normalise("debit_order", "random")


@pytest.mark.parametrize("value", ["²", "9" * 5000])
def test_a_number_setting_refuses_any_digit_text_python_cannot_read(value: str) -> None:
    with pytest.raises(ValidationError):
        normalise("default_expiry_days", value)


def test_an_unknown_setting_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(ValidationError, match=r"unknown setting 'colour'.*debit_order"):
        normalise("colour", "blue")


def test_a_plain_setting_cannot_be_set_per_currency() -> None:
    with pytest.raises(ValidationError, match="debit_order is not set per currency"):
        normalise("debit_order.EUR", "paid_first")


@pytest.mark.parametrize("value", ["none", "NONE", "", "  "])
def test_none_or_an_empty_value_restores_a_plain_setting_to_its_default(value: str) -> None:
    assert normalise("reversal_window_days", value) == ("reversal_window_days", None)


def test_every_setting_has_a_parser_and_help_and_plain_defaults_pass_their_parser() -> None:
    for name, definition in DEFINITIONS.items():
        assert definition.help
        if definition.default is not None and name not in PER_CURRENCY:
            assert definition.parse(definition.default) == definition.default


# -- normalise: per-currency amounts -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PER_CURRENCY))
@pytest.mark.parametrize(
    ("key_suffix", "value", "stored_key_suffix", "stored"),
    [
        (".EUR", "10", ".EUR", "10.00"),
        (".EUR", "10.5", ".EUR", "10.50"),
        (".eur", "10.00", ".EUR", "10.00"),
        ("", "10.00 EUR", ".EUR", "10.00"),
        ("", "EUR 10", ".EUR", "10.00"),
        (".EUR", "10 EUR", ".EUR", "10.00"),
        ("", "1000 JPY", ".JPY", "1000"),
        (".JPY", "1000", ".JPY", "1000"),
        (".KWD", "1.5", ".KWD", "1.500"),
        ("", "0.001 KWD", ".KWD", "0.001"),
    ],
)
def test_a_per_currency_amount_is_keyed_by_currency_in_either_form(
    name: str, key_suffix: str, value: str, stored_key_suffix: str, stored: str
) -> None:
    assert normalise(name + key_suffix, value) == (name + stored_key_suffix, stored)


@pytest.mark.parametrize(
    ("key", "value", "error", "match"),
    [
        ("minimum_amount", "10", AmountError, "names no currency"),
        ("minimum_amount.EUR", "10 USD", ValidationError, "in EUR, not USD"),
        ("minimum_amount.EUR", "0", ValidationError, "above zero"),
        ("minimum_amount.EUR", "-5", ValidationError, "above zero"),
        ("maximum_amount.EUR", "10.001", AmountError, "more decimals"),
        ("maximum_amount.JPY", "10.5", AmountError, "more decimals"),
        ("maximum_amount.XYZ", "10", CurrencyError, "unknown currency"),
        ("large_redemption_threshold.EUR", "lots", AmountError, "not an amount"),
        ("minimum_amount", "none", ValidationError, r"say which currency: minimum_amount\.EUR"),
    ],
)
def test_a_bad_per_currency_amount_is_refused(
    key: str, value: str, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        normalise(key, value)


def test_none_clears_a_per_currency_amount_of_one_currency() -> None:
    assert normalise("minimum_amount.eur", "none") == ("minimum_amount.EUR", None)
    assert normalise("maximum_amount.JPY", "") == ("maximum_amount.JPY", None)


def test_setting_key_appends_the_currency_only_when_given() -> None:
    assert setting_key("minimum_amount", "EUR") == "minimum_amount.EUR"
    assert setting_key("debit_order") == "debit_order"


# -- OperatorSettings -----------------------------------------------------------------------


def test_operator_settings_default_to_the_documented_values() -> None:
    settings = OperatorSettings()
    assert settings.text("default_currency") == "EUR"
    assert settings.number("default_expiry_days") == 365
    assert settings.number("reversal_window_days") == 30
    assert settings.debit_order is DebitOrder.BONUS_FIRST
    assert settings.number("lockout_window_minutes") == 60
    assert settings.number("lockout_guesses_per_customer") == 10
    assert settings.number("lockout_guesses_per_caller") == 100
    assert settings.number("lockout_guesses_per_address") == 30
    assert settings.number("lockout_typos_per_customer") == 50
    assert settings.number("guess_alert_per_window") == 1000
    assert settings.limits("EUR") == AmountLimits(None, None)
    assert settings.amount("large_redemption_threshold", "EUR") is None


def test_stored_values_override_the_defaults() -> None:
    settings = OperatorSettings.from_stored(
        {"debit_order": "paid_first", "reversal_window_days": "7", "default_currency": "JPY"}
    )
    assert settings.debit_order is DebitOrder.PAID_FIRST
    assert settings.number("reversal_window_days") == 7
    assert settings.text("default_currency") == "JPY"


def test_amount_limits_are_read_per_currency_in_minor_units() -> None:
    settings = OperatorSettings.from_stored(
        {
            "minimum_amount.EUR": "10.00",
            "maximum_amount.EUR": "500.00",
            "maximum_amount.JPY": "50000",
            "minimum_amount.KWD": "1.500",
            "large_redemption_threshold.EUR": "250.00",
        }
    )
    assert settings.limits("EUR") == AmountLimits(1000, 50000)
    assert settings.limits("JPY") == AmountLimits(None, 50000)
    assert settings.limits("KWD") == AmountLimits(1500, None)
    assert settings.limits("USD") == AmountLimits(None, None)
    assert settings.amount("large_redemption_threshold", "EUR") == 25000


def test_stored_settings_are_copied_not_shared() -> None:
    stored = {"debit_order": "paid_first"}
    settings = OperatorSettings.from_stored(stored)
    stored["debit_order"] = "bonus_first"
    assert settings.debit_order is DebitOrder.PAID_FIRST


def test_effective_shows_every_plain_setting_and_the_per_currency_ones_set() -> None:
    shown = OperatorSettings.from_stored(
        {"minimum_amount.EUR": "10.00", "reversal_window_days": "7"}
    ).effective()
    plain = {name for name in DEFINITIONS if name not in PER_CURRENCY}
    assert set(shown) == plain | {"minimum_amount.EUR"}
    assert shown["reversal_window_days"] == "7"
    assert shown["debit_order"] == "bonus_first"
    assert shown["minimum_amount.EUR"] == "10.00"
    assert list(shown) == sorted(shown)


def test_a_normalised_value_reads_back_as_what_was_meant() -> None:
    key, value = normalise("minimum_amount", "EUR 12.5")
    assert value is not None
    assert OperatorSettings.from_stored({key: value}).limits("EUR").minimum_minor == 1250


# -- lock-outs: back-off ---------------------------------------------------------------------

CUSTOMER = Subject(Scope.CUSTOMER, "C1")
HOURLY = Limit(AttemptKind.GUESS, 10, timedelta(hours=1))


def test_a_subject_reads_as_scope_and_name() -> None:
    assert str(CUSTOMER) == "customer:C1"
    assert str(GLOBAL) == "global:*"


def test_a_first_lockout_lasts_one_window() -> None:
    assert next_lockout(CUSTOMER, HOURLY, NOW, None) == Lockout(
        CUSTOMER, NOW + timedelta(hours=1), strikes=1
    )


def test_each_further_lockout_within_a_day_lasts_twice_as_long() -> None:
    previous: Lockout | None = None
    now = NOW
    durations = []
    for _ in range(5):
        lockout = next_lockout(CUSTOMER, HOURLY, now, previous)
        durations.append(lockout.until - now)
        now, previous = lockout.until + timedelta(minutes=1), lockout
    assert durations == [timedelta(hours=h) for h in (1, 2, 4, 8, 16)]
    assert previous is not None
    assert previous.strikes == 5


def test_a_lockout_never_lasts_more_than_a_day() -> None:
    previous = Lockout(CUSTOMER, NOW - timedelta(minutes=1), strikes=5)
    lockout = next_lockout(CUSTOMER, HOURLY, NOW, previous)
    assert lockout.strikes == 6
    assert lockout.until - NOW == MAX_LOCKOUT == timedelta(days=1)
    again = next_lockout(CUSTOMER, HOURLY, NOW, Lockout(CUSTOMER, NOW, strikes=20))
    assert again.until - NOW == timedelta(days=1)


@pytest.mark.parametrize("strikes", [35, 1000])
def test_a_persistent_guesser_stays_capped_at_a_day(strikes: int) -> None:
    previous = Lockout(CUSTOMER, NOW - timedelta(minutes=1), strikes=strikes)
    lockout = next_lockout(CUSTOMER, HOURLY, NOW, previous)
    assert lockout.strikes == strikes + 1
    assert lockout.until - NOW == MAX_LOCKOUT


def test_a_long_window_is_capped_at_a_day_from_the_first_strike() -> None:
    weekly = Limit(AttemptKind.GUESS, 10, timedelta(days=7))
    assert next_lockout(CUSTOMER, weekly, NOW, None).until == NOW + timedelta(days=1)


def test_strikes_are_forgotten_a_day_after_the_last_lockout_ended() -> None:
    almost = Lockout(CUSTOMER, NOW - STRIKE_MEMORY + timedelta(seconds=1), strikes=3)
    assert next_lockout(CUSTOMER, HOURLY, NOW, almost).strikes == 4
    a_day = Lockout(CUSTOMER, NOW - STRIKE_MEMORY, strikes=3)
    forgotten = next_lockout(CUSTOMER, HOURLY, NOW, a_day)
    assert forgotten.strikes == 1
    assert forgotten.until == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("left", "seconds"),
    [
        (timedelta(hours=1), 3600),
        (timedelta(seconds=59.2), 60),  # rounded up: never invite a retry too early
        (timedelta(milliseconds=1), 1),
        (timedelta(0), 1),
        (timedelta(seconds=-30), 1),
    ],
)
def test_retry_after_is_whole_seconds_rounded_up_and_at_least_one(
    left: timedelta, seconds: int
) -> None:
    assert Lockout(CUSTOMER, NOW + left, 1).retry_after(NOW) == seconds
