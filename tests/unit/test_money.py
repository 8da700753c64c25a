from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basketpay.money import (
    CURRENCY_EXPONENTS,
    Money,
    MoneyError,
    currency_exponent,
    format_major,
    parse_major,
)


def test_exponents_follow_iso_4217() -> None:
    assert (currency_exponent("usd"), currency_exponent("JPY"), currency_exponent("kwd")) == (2, 0, 3)
    assert currency_exponent("CLF") == 4
    assert len(CURRENCY_EXPONENTS) > 150


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(MoneyError):
        currency_exponent("XYZ")


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("12.34", "usd", 1234), ("0.01", "usd", 1), ("1500", "jpy", 1500), ("1.234", "kwd", 1234), ("-5.00", "usd", -500)],
)
def test_parse_major_is_exact(text: str, currency: str, minor: int) -> None:
    assert parse_major(text, currency) == minor


@pytest.mark.parametrize(("text", "currency"), [("12.345", "usd"), ("1.5", "jpy"), ("0.0001", "kwd"), ("abc", "usd"), ("NaN", "usd")])
def test_parse_major_rejects_what_the_currency_cannot_hold(text: str, currency: str) -> None:
    with pytest.raises(MoneyError):
        parse_major(text, currency)


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["usd", "jpy", "kwd", "clf"]))
def test_format_then_parse_round_trips(minor: int, currency: str) -> None:
    assert parse_major(format_major(minor, currency), currency) == minor


def test_money_arithmetic_stays_in_one_currency() -> None:
    assert Money(100, "usd") + Money(250, "usd") == Money(350, "usd")
    with pytest.raises(MoneyError):
        Money(1, "usd") + Money(1, "eur")
    assert str(Money(123456, "usd")) == "1234.56 USD"
    assert parse_major(Decimal("0.10"), "usd") == 10
