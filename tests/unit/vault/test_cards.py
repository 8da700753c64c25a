from __future__ import annotations

import datetime as dt

import pytest

from basketpay.connectors.base import Card
from basketpay.errors import InvalidRequest
from basketpay.vault.cards import card_brand, luhn_valid, validate_card

TODAY = dt.date(2026, 11, 25)


@pytest.mark.parametrize(
    ("number", "brand"),
    [("4242424242424242", "visa"), ("5555555555554444", "mastercard"), ("2223003122003222", "mastercard"),
     ("378282246310005", "amex"), ("6011111111111117", "discover"), ("3566002020360505", "jcb"),
     ("36227206271667", "diners"), ("6200000000000005", "unionpay"), ("9999999999999995", "unknown")],
)
def test_brand_by_bin(number: str, brand: str) -> None:
    assert luhn_valid(number)
    assert card_brand(number) == brand


def test_luhn_rejects_a_single_digit_error() -> None:
    assert not luhn_valid("4242424242424241")


@pytest.mark.parametrize(
    ("number", "month", "year", "cvc", "param"),
    [("4242424242424241", 12, 2030, "123", "card[number]"), ("42424242", 12, 2030, "123", "card[number]"),
     ("4242424242424242", 0, 2030, "123", "card[exp_month]"), ("4242424242424242", 10, 2026, "123", "card[exp_year]"),
     ("4242424242424242", 12, 2030, "1234", "card[cvc]"), ("378282246310005", 12, 2030, "123", "card[cvc]")],
)
def test_validation_names_the_field(number: str, month: int, year: int, cvc: str, param: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        validate_card(number, month, year, cvc, TODAY)
    assert raised.value.param == param


def test_a_card_never_shows_its_number_in_repr() -> None:
    assert "4242424242424242" not in repr(Card("4242424242424242", 12, 2030, "123"))
    assert "123" not in repr(Card("4242424242424242", 12, 2030, "123"))
