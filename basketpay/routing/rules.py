"""Routing rules as data: conditions on a payment attempt, and the processors to use, in
order, when they all hold. Rules are ordered and the first that matches wins::

    [{"id": "eu-debit",
      "conditions": {"issuing_countries": ["DE", "FR"], "fundings": ["debit"],
                     "bin_ranges": [["400000", "499999"], "5"], "amount_minor_max": 50000},
      "processors": ["adyen", "stripe"]},
     {"id": "everything-else", "processors": ["stripe", "adyen"]}]

Conditions: brands, bin_ranges, issuing_countries, fundings, currencies, amount_minor_min,
amount_minor_max (both inclusive), payment_method_types, merchant_ids; each optional.
They are compiled once, when parsed, into sets and integer BIN ranges, because matching
runs on every attempt. An attempt that lacks a fact a condition asks about (no BIN, no
brand) does not match that condition.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from basketpay.money import CURRENCY_EXPONENTS
from basketpay.routing.model import AttemptContext
from basketpay.routing.parsing import FUNDINGS, country_code, fail, fields, integer, items, names, text

__all__ = ["BinRange", "Conditions", "Rule", "first_match", "parse_rules"]

CURRENCIES = frozenset(code.lower() for code in CURRENCY_EXPONENTS)
RULES_MAX = 1_000  # matching is a linear scan on every attempt
BIN_RANGES_MAX = 1_000  # per rule, for the same reason
_BIN_PREFIX = re.compile(r"[0-9]{1,8}")  # PCI DSS allows keeping at most the first 8 digits
_SETS: dict[str, Callable[[str], str]] = {  # each with how its values are folded to the model's case
    "brands": str.lower, "issuing_countries": str.upper, "fundings": str.lower, "currencies": str.lower,
    "payment_method_types": str.lower, "merchant_ids": str.strip,
}
_CONDITIONS = frozenset({*_SETS, "bin_ranges", "amount_minor_min", "amount_minor_max"})


class BinRange(NamedTuple):
    """Cards whose first `digits` digits, read as a number, are from `low` to `high`."""

    digits: int
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class Conditions:
    brands: frozenset[str] | None = None
    bin_ranges: tuple[BinRange, ...] | None = None
    issuing_countries: frozenset[str] | None = None
    fundings: frozenset[str] | None = None
    currencies: frozenset[str] | None = None
    amount_minor_min: int | None = None
    amount_minor_max: int | None = None
    payment_method_types: frozenset[str] | None = None
    merchant_ids: frozenset[str] | None = None

    def match(self, context: AttemptContext) -> bool:
        """All the given conditions hold (`None in frozenset` is False: a missing fact fails)."""
        return not (
            (self.merchant_ids is not None and context.merchant_id not in self.merchant_ids)
            or (self.currencies is not None and context.currency not in self.currencies)
            or (self.amount_minor_min is not None and context.amount < self.amount_minor_min)
            or (self.amount_minor_max is not None and context.amount > self.amount_minor_max)
            or (self.payment_method_types is not None and context.payment_method_type not in self.payment_method_types)
            or (self.brands is not None and context.brand not in self.brands)
            or (self.fundings is not None and context.funding not in self.fundings)
            or (self.issuing_countries is not None and context.issuing_country not in self.issuing_countries)
            or (self.bin_ranges is not None and not _in_bin_ranges(context.bin, self.bin_ranges))
        )


def _in_bin_ranges(bin_: str | None, ranges: tuple[BinRange, ...]) -> bool:
    if bin_ is None or not bin_.isascii() or not bin_.isdigit():
        return False
    return any(len(bin_) >= digits and low <= int(bin_[:digits]) <= high for digits, low, high in ranges)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    conditions: Conditions
    processors: tuple[str, ...]  # when the rule matches, only these, first choice first


def first_match(rules: Sequence[Rule], context: AttemptContext) -> Rule | None:
    for rule in rules:
        if rule.conditions.match(context):
            return rule
    return None


def parse_rules(data: list[dict[str, Any]], path: str = "rules") -> list[Rule]:
    rules = [_rule(item, f"{path}[{index}]") for index, item in enumerate(items(data, path, RULES_MAX, empty_ok=True))]
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        if rule.id in seen:
            fail(f"{path}[{index}].id", f"{rule.id!r} is the id of an earlier rule")
        seen.add(rule.id)
    return rules


def _rule(value: Any, path: str) -> Rule:
    data = fields(value, path, {"id", "conditions", "processors"}, required={"id", "processors"})
    return Rule(id=text(data["id"], f"{path}.id"),
                conditions=_conditions(data.get("conditions", {}), f"{path}.conditions"),
                processors=names(data["processors"], f"{path}.processors"))


def _conditions(value: Any, path: str) -> Conditions:
    data = fields(value, path, _CONDITIONS)
    sets = {name: frozenset(names(data[name], f"{path}.{name}", fold)) for name, fold in _SETS.items() if name in data}
    _check_values(sets, path)
    low, high = (None if name not in data else integer(data[name], f"{path}.{name}")
                 for name in ("amount_minor_min", "amount_minor_max"))
    if low is not None and high is not None and low > high:
        fail(f"{path}.amount_minor_min", "must not be more than amount_minor_max")
    bin_ranges = None if "bin_ranges" not in data else tuple(
        _bin_range(entry, f"{path}.bin_ranges[{index}]")
        for index, entry in enumerate(items(data["bin_ranges"], f"{path}.bin_ranges", BIN_RANGES_MAX)))
    return Conditions(
        brands=sets.get("brands"), bin_ranges=bin_ranges, issuing_countries=sets.get("issuing_countries"),
        fundings=sets.get("fundings"), currencies=sets.get("currencies"), amount_minor_min=low,
        amount_minor_max=high, payment_method_types=sets.get("payment_method_types"),
        merchant_ids=sets.get("merchant_ids"),
    )


def _check_values(sets: dict[str, frozenset[str]], path: str) -> None:
    """Values the attempt could never carry would make a rule that never matches: refuse them."""
    for name, allowed, what in (("fundings", FUNDINGS, "credit, debit or prepaid"),
                                ("currencies", CURRENCIES, "an ISO 4217 code")):
        for value in sorted(sets.get(name, frozenset()) - allowed):
            fail(f"{path}.{name}", f"{value!r} is not {what}")
    for value in sets.get("issuing_countries", frozenset()):
        country_code(value, f"{path}.issuing_countries")


def _bin_range(entry: Any, path: str) -> BinRange:
    """A pair ["400000", "499999"] of prefixes with as many digits each; a lone "4" is ["4", "4"]."""
    ends = [entry, entry] if isinstance(entry, str) else entry
    if not (isinstance(ends, list) and len(ends) == 2
            and all(isinstance(end, str) and _BIN_PREFIX.fullmatch(end) for end in ends)):
        fail(path, 'must be a prefix "4" or a pair ["400000", "499999"] of 1 to 8 digits each')
    low, high = ends
    if len(low) != len(high) or int(low) > int(high):
        fail(path, "the two ends must have as many digits each, and the first must not be above the second")
    return BinRange(len(low), int(low), int(high))
