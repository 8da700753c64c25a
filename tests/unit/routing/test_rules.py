from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basketpay.routing.model import AttemptContext
from basketpay.routing.rules import first_match, parse_rules

CARD = AttemptContext(merchant_id="mer_1", amount=5_000, currency="usd", brand="visa", bin="424242",
                      issuing_country="US", funding="credit", customer="cus_1")


def rule(conditions: dict[str, Any], processors: list[str] | None = None, rule_id: str = "r") -> dict[str, Any]:
    return {"id": rule_id, "conditions": conditions, "processors": processors or ["adyen"]}


def matches(conditions: dict[str, Any], context: AttemptContext) -> bool:
    return first_match(parse_rules([rule(conditions)]), context) is not None


@pytest.mark.parametrize(
    ("conditions", "matching", "not_matching"),
    [
        ({"brands": ["VISA", "mastercard"]}, {"brand": "visa"}, {"brand": "amex"}),
        ({"issuing_countries": ["de", "FR"]}, {"issuing_country": "DE"}, {"issuing_country": "US"}),
        ({"fundings": ["debit", "prepaid"]}, {"funding": "prepaid"}, {"funding": "credit"}),
        ({"currencies": ["EUR"]}, {"currency": "eur"}, {"currency": "usd"}),
        ({"amount_minor_min": 1_000, "amount_minor_max": 2_000}, {"amount": 2_000}, {"amount": 2_001}),
        ({"amount_minor_min": 1_000, "amount_minor_max": 2_000}, {"amount": 1_000}, {"amount": 999}),
        ({"amount_minor_min": 1_000}, {"amount": 10**12}, {"amount": 999}),
        ({"payment_method_types": ["card"]}, {"payment_method_type": "card"}, {"payment_method_type": "ebt"}),
        ({"merchant_ids": ["mer_1", "mer_2"]}, {"merchant_id": "mer_2"}, {"merchant_id": "mer_3"}),
        ({"bin_ranges": [["400000", "499999"]]}, {"bin": "400000"}, {"bin": "399999"}),
        ({"bin_ranges": [["400000", "499999"]]}, {"bin": "49999999"}, {"bin": "500000"}),
        ({"bin_ranges": [["222100", "272099"]]}, {"bin": "27209912"}, {"bin": "272100"}),
        ({"bin_ranges": ["5", ["34", "37"]]}, {"bin": "371449"}, {"bin": "381449"}),
        ({"bin_ranges": [["42424243", "42424299"]]}, {"bin": "42424250"}, {"bin": "42424242"}),
    ],
)
def test_each_condition_type(conditions: dict[str, Any], matching: dict[str, Any],
                             not_matching: dict[str, Any]) -> None:
    assert matches(conditions, replace(CARD, **matching))
    assert not matches(conditions, replace(CARD, **not_matching))


@pytest.mark.parametrize(
    ("conditions", "missing"),
    [({"brands": ["visa"]}, {"brand": None}), ({"fundings": ["credit"]}, {"funding": None}),
     ({"issuing_countries": ["US"]}, {"issuing_country": None}), ({"bin_ranges": ["4"]}, {"bin": None}),
     ({"bin_ranges": [["400000", "499999"]]}, {"bin": "4242"})],  # a BIN shorter than the range says nothing
)
def test_an_attempt_without_the_fact_does_not_match(conditions: dict[str, Any], missing: dict[str, Any]) -> None:
    assert not matches(conditions, replace(CARD, **missing))


def test_all_given_conditions_must_hold() -> None:
    conditions = {"brands": ["visa"], "fundings": ["debit"], "issuing_countries": ["US"]}
    assert matches(conditions, replace(CARD, funding="debit"))
    assert not matches(conditions, CARD)


def test_no_conditions_match_everything() -> None:
    rules = parse_rules([{"id": "catch-all", "processors": ["stripe"]}])
    assert first_match(rules, replace(CARD, brand=None, bin=None, funding=None)) == rules[0]


def test_the_first_matching_rule_wins() -> None:
    rules = parse_rules([
        rule({"brands": ["amex"]}, ["amex-direct"], "amex"),
        rule({"brands": ["visa"], "fundings": ["debit"]}, ["adyen"], "visa-debit"),
        rule({"brands": ["visa"]}, ["stripe", "adyen"], "visa"),
        rule({}, ["stripe"], "everything-else"),
    ])
    assert first_match(rules, replace(CARD, funding="debit")).id == "visa-debit"  # type: ignore[union-attr]
    assert first_match(rules, CARD).id == "visa"  # type: ignore[union-attr]
    assert first_match(rules, replace(CARD, brand="discover")).id == "everything-else"  # type: ignore[union-attr]
    assert rules[2].processors == ("stripe", "adyen")


def test_no_rule_matches() -> None:
    assert first_match(parse_rules([rule({"brands": ["amex"]})]), CARD) is None
    assert parse_rules([]) == []


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"id": "r", "processors": ["a"], "conditions": {"brand": ["visa"]}}, "rules[1].conditions: unknown"),
        ({"id": "r", "processors": []}, "rules[1].processors"),
        ({"id": "r", "processors": ["a", "a"]}, "rules[1].processors[1]"),
        ({"id": "", "processors": ["a"]}, "rules[1].id"),
        ({"processors": ["a"]}, "rules[1]: missing field(s) ['id']"),
        ({"id": "first", "processors": ["a"]}, "rules[1].id: 'first' is the id of an earlier rule"),
        (rule({"brands": []}), "rules[1].conditions.brands"),
        (rule({"brands": "visa"}), "rules[1].conditions.brands"),
        (rule({"brands": ["visa", 4]}), "rules[1].conditions.brands[1]"),
        (rule({"fundings": ["charge"]}), "rules[1].conditions.fundings"),
        (rule({"currencies": ["usd", "dollars"]}), "rules[1].conditions.currencies"),
        (rule({"issuing_countries": ["USA"]}), "rules[1].conditions.issuing_countries"),
        (rule({"amount_minor_min": -1}), "rules[1].conditions.amount_minor_min"),
        (rule({"amount_minor_max": 10.5}), "rules[1].conditions.amount_minor_max"),
        (rule({"amount_minor_max": True}), "rules[1].conditions.amount_minor_max"),
        (rule({"amount_minor_min": 10, "amount_minor_max": 9}), "rules[1].conditions.amount_minor_min"),
        (rule({"bin_ranges": [["400000", "49999"]]}), "rules[1].conditions.bin_ranges[0]"),
        (rule({"bin_ranges": ["4", ["500000", "400000"]]}), "rules[1].conditions.bin_ranges[1]"),
        (rule({"bin_ranges": [["4x", "49"]]}), "rules[1].conditions.bin_ranges[0]"),
        (rule({"bin_ranges": [["4", "5", "6"]]}), "rules[1].conditions.bin_ranges[0]"),
        (rule({"bin_ranges": ["123456789"]}), "rules[1].conditions.bin_ranges[0]"),
        (rule({"bin_ranges": [400000]}), "rules[1].conditions.bin_ranges[0]"),
        ("not a rule", "rules[1]: must be an object"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(data: Any, path: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_rules([{"id": "first", "processors": ["a"]}, data])
    assert str(raised.value).startswith(path), str(raised.value)


def test_rules_must_be_a_list() -> None:
    with pytest.raises(ValueError, match="^rules: must be a list"):
        parse_rules({"id": "r"})  # type: ignore[arg-type]


@given(low=st.integers(0, 999_999), width=st.integers(0, 999_999), card=st.integers(0, 99_999_999))
def test_bin_ranges_compare_equal_length_prefixes(low: int, width: int, card: int) -> None:
    high = min(low + width, 999_999)
    bin_ = f"{card:08d}"
    conditions = {"bin_ranges": [[f"{low:06d}", f"{high:06d}"]]}
    # Zero-padded strings of one length order as their numbers do.
    assert matches(conditions, replace(CARD, bin=bin_)) == (f"{low:06d}" <= bin_[:6] <= f"{high:06d}")
    assert matches(conditions, replace(CARD, bin=bin_[:6])) == (f"{low:06d}" <= bin_[:6] <= f"{high:06d}")
