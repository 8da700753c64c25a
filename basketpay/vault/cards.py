"""Card number checks (Luhn, length, expiry) and brand detection by BIN range."""

from __future__ import annotations

import datetime as dt

from basketpay.errors import InvalidRequest

_BRAND_RANGES: tuple[tuple[str, int, int, int], ...] = (
    # (brand, prefix length, low, high), most specific first
    ("mastercard", 4, 2221, 2720),
    ("discover", 4, 6011, 6011),
    ("discover", 3, 644, 649),
    ("amex", 2, 34, 34),
    ("amex", 2, 37, 37),
    ("mastercard", 2, 51, 55),
    ("discover", 2, 65, 65),
    ("jcb", 2, 35, 35),
    ("diners", 2, 36, 36),
    ("diners", 2, 38, 38),
    ("diners", 3, 300, 305),
    ("unionpay", 2, 62, 62),
    ("visa", 1, 4, 4),
)


def luhn_valid(number: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(number)):
        digit = ord(char) - 48
        if index % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def card_brand(number: str) -> str:
    for brand, length, low, high in _BRAND_RANGES:
        if low <= int(number[:length]) <= high:
            return brand
    return "unknown"


def validate_card(number: str, exp_month: int, exp_year: int, cvc: str | None, today: dt.date) -> str:
    """Check a card before it goes anywhere; return its brand. Raises InvalidRequest naming the field."""
    if not number.isdigit() or not 12 <= len(number) <= 19:
        raise InvalidRequest(
            "The card number is not a valid card number.", code="invalid_number", param="card[number]"
        )
    if not luhn_valid(number):
        raise InvalidRequest(
            "The card number is incorrect (it fails the Luhn check).",
            code="incorrect_number",
            param="card[number]",
        )
    if not 1 <= exp_month <= 12:
        raise InvalidRequest("The expiry month is invalid.", code="invalid_expiry_month", param="card[exp_month]")
    if (exp_year, exp_month) < (today.year, today.month) or exp_year > today.year + 50:
        raise InvalidRequest("The expiry year is invalid.", code="invalid_expiry_year", param="card[exp_year]")
    brand = card_brand(number)
    cvc_lengths = (4,) if brand == "amex" else (3,)
    if cvc is not None and (not cvc.isdigit() or len(cvc) not in cvc_lengths):
        raise InvalidRequest("The security code is invalid.", code="invalid_cvc", param="card[cvc]")
    return brand
