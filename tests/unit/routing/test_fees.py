from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basketpay.routing.fees import parse_fee_model
from basketpay.routing.model import AttemptContext

CARD = AttemptContext(merchant_id="mer_1", amount=10_000, currency="usd", brand="visa", bin="424242",
                      issuing_country="US", funding="credit")
MODEL = parse_fee_model({
    "percent_bps": 290, "fixed_minor": 30,
    "overrides": [
        {"brand": "visa", "funding": "debit", "percent_bps": 5, "fixed_minor": 22},
        {"funding": "debit", "percent_bps": 80, "fixed_minor": 25},
        {"brand": "AMEX", "percent_bps": 350, "fixed_minor": 30},
    ],
    "cross_border": {"percent_bps": 150, "fixed_minor": 5}, "merchant_country": "us",
}, "fees.stripe")


@pytest.mark.parametrize(
    ("facts", "fee"),
    [
        ({}, 290 + 30),  # $100.00 credit: 2.9% + 30¢
        ({"amount": 50}, 1 + 30),  # 1.45¢ rounds down
        ({"amount": 1_234}, 36 + 30),  # 35.786¢ rounds up
        ({"funding": "debit"}, 5 + 22),  # the visa debit override, listed first
        ({"funding": "debit", "brand": "mastercard"}, 80 + 25),  # any other debit
        ({"brand": "amex"}, 350 + 30),
        ({"brand": None}, 290 + 30),
        ({"issuing_country": "DE"}, 290 + 30 + 150 + 5),  # cross-border surcharge on top
        ({"issuing_country": "DE", "funding": "debit"}, 5 + 22 + 150 + 5),
        ({"issuing_country": None}, 290 + 30),  # nothing says the card is foreign
    ],
)
def test_expected_fee_is_exact_to_the_cent(facts: dict[str, Any], fee: int) -> None:
    assert MODEL.expected_fee(replace(CARD, **facts)) == fee


def test_each_percentage_rounds_half_up_once_per_component() -> None:
    model = parse_fee_model({"percent_bps": 250, "cross_border": {"percent_bps": 150}, "merchant_country": "US"},
                            "fees.a")
    assert model.expected_fee(replace(CARD, amount=20)) == 1  # 0.5 -> 1
    assert model.expected_fee(replace(CARD, amount=19)) == 0  # 0.475 -> 0
    # 100 × 2.5% = 2.5 -> 3 and × 1.5% = 1.5 -> 2: one rounding of the sum, 4.0, would say 4.
    assert model.expected_fee(replace(CARD, amount=1_010, issuing_country="FR")) == 25 + 15
    assert model.expected_fee(replace(CARD, amount=100, issuing_country="FR")) == 3 + 2


def test_no_merchant_country_means_no_surcharge() -> None:
    model = parse_fee_model({"percent_bps": 100}, "fees.a")
    assert model.expected_fee(replace(CARD, issuing_country="JP")) == 100


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"percent_bps": -1}, "fees.a.percent_bps"),
        ({"percent_bps": 10_001}, "fees.a.percent_bps"),
        ({"percent_bps": 2.9}, "fees.a.percent_bps"),
        ({"fixed_minor": True}, "fees.a.fixed_minor"),
        ({"percent": 290}, "fees.a: unknown field(s) ['percent']"),
        ({"overrides": [{"percent_bps": 5}]}, "fees.a.overrides[0]: needs a brand or a funding"),
        ({"overrides": [{"funding": "charge"}]}, "fees.a.overrides[0].funding"),
        ({"overrides": [{"brand": "visa", "percent_bps": "5"}]}, "fees.a.overrides[0].percent_bps"),
        ({"overrides": {"brand": "visa"}}, "fees.a.overrides"),
        ({"cross_border": {"percent_bps": 100}}, "fees.a.cross_border: needs merchant_country"),
        ({"cross_border": {"bps": 100}, "merchant_country": "US"}, "fees.a.cross_border: unknown"),
        ({"merchant_country": "USA"}, "fees.a.merchant_country"),
        ([], "fees.a: must be an object"),
    ],
)
def test_bad_fee_models_are_refused_naming_the_field(data: Any, path: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_fee_model(data, "fees.a")
    assert str(raised.value).startswith(path), str(raised.value)


@given(amount=st.integers(0, 10**12), bps=st.integers(0, 10_000), fixed=st.integers(0, 1_000),
       surcharge_bps=st.integers(0, 10_000), foreign=st.booleans())
def test_fee_is_the_exact_rational_fee_rounded_half_up(amount: int, bps: int, fixed: int, surcharge_bps: int,
                                                       foreign: bool) -> None:
    model = parse_fee_model({"percent_bps": bps, "fixed_minor": fixed, "cross_border": {"percent_bps": surcharge_bps},
                             "merchant_country": "US"}, "fees.a")

    def half_up(value: Fraction) -> int:
        return math.floor(value + Fraction(1, 2))

    expected = half_up(Fraction(amount * bps, 10_000)) + fixed
    expected += half_up(Fraction(amount * surcharge_bps, 10_000)) if foreign else 0
    assert model.expected_fee(replace(CARD, amount=amount, issuing_country="DE" if foreign else "US")) == expected
