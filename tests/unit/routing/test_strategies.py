from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from basketpay.routing.model import AttemptContext
from basketpay.routing.strategies import STRATEGIES, FixedCounts, RoutingConfig, parse_config, route

CARD = AttemptContext(merchant_id="mer_1", amount=10_000, currency="usd", brand="visa", bin="424242",
                      issuing_country="US", funding="credit")
NO_HISTORY = FixedCounts({})
FEES = {
    "stripe": {"percent_bps": 290, "fixed_minor": 30},
    "adyen": {"percent_bps": 200, "fixed_minor": 12, "overrides": [{"funding": "debit", "percent_bps": 20}]},
    "braintree": {"percent_bps": 259, "fixed_minor": 49},
}
PROCESSORS = ["stripe", "adyen", "braintree"]
SPLIT = {"name": "volume_split", "weights": {"stripe": 70, "adyen": 20, "braintree": 10}}


def config(strategy: str | dict[str, Any], **extra: Any) -> RoutingConfig:
    return parse_config({"processors": PROCESSORS, "fees": FEES, "strategy": strategy, **extra})


def firsts(routing: RoutingConfig, contexts: list[AttemptContext], counts: FixedCounts = NO_HISTORY,
           seed: int = 7) -> Counter[str]:
    rng = random.Random(seed)
    return Counter(route(context, routing, counts, rng).processors[0] for context in contexts)


def test_volume_split_converges_to_its_weights() -> None:
    draws = 100_000
    shares = firsts(config(SPLIT), [CARD] * draws)
    for processor, weight in SPLIT["weights"].items():  # type: ignore[attr-defined]
        assert abs(shares[processor] / draws - weight / 100) < 0.01, shares


def test_volume_split_by_customer_converges_and_is_stable_per_customer() -> None:
    routing = config(SPLIT)
    customers = [replace(CARD, customer=f"cus_{index}") for index in range(100_000)]
    shares = firsts(routing, customers)
    for processor, weight in SPLIT["weights"].items():  # type: ignore[attr-defined]
        assert abs(shares[processor] / len(customers) - weight / 100) < 0.01, shares
    for customer in customers[:50]:
        assert len({route(customer, routing, NO_HISTORY, random.Random(seed)).processors[0] for seed in range(20)}) == 1


def test_volume_split_per_customer_does_not_depend_on_the_listed_order() -> None:
    forward, backward = config(SPLIT), replace(config(SPLIT), processors=tuple(reversed(PROCESSORS)))
    for index in range(200):
        customer = replace(CARD, customer=f"cus_{index}")
        assert (route(customer, forward, NO_HISTORY, random.Random(1)).processors[0]
                == route(customer, backward, NO_HISTORY, random.Random(2)).processors[0])


def test_volume_split_falls_back_heaviest_first() -> None:
    decision = route(CARD, config(SPLIT), NO_HISTORY, random.Random(3))
    rest = [processor for processor in ["stripe", "adyen", "braintree"] if processor != decision.processors[0]]
    assert decision.processors[1:] == rest
    assert decision.candidates[0].reason == "split:70/20/10"


def test_volume_split_never_starts_with_a_weightless_processor_unless_a_rule_leaves_only_those() -> None:
    weights = {"name": "volume_split", "weights": {"stripe": 1, "adyen": 0}}
    rules = [{"id": "eu", "conditions": {"issuing_countries": ["DE"]}, "processors": ["adyen", "braintree"]}]
    routing = config(weights, rules=rules)
    assert firsts(routing, [CARD] * 1_000) == Counter({"stripe": 1_000})
    shares = firsts(routing, [replace(CARD, issuing_country="DE")] * 1_000)
    assert set(shares) == {"adyen", "braintree"} and abs(shares["adyen"] - 500) < 100


def test_thompson_sampling_prefers_the_clearly_better_processor_and_still_explores() -> None:
    routing = parse_config({"processors": ["stripe", "adyen"],
                            "strategy": {"name": "success_rate", "exploration_share": 0.05}})
    counts = FixedCounts({"stripe": (950, 50), "adyen": (700, 300)})  # 95% against 70% approval
    rng = random.Random(11)
    decisions = [route(CARD, routing, counts, rng) for _ in range(5_000)]
    shares = Counter(decision.processors[0] for decision in decisions)
    assert shares["stripe"] / len(decisions) > 0.90
    assert 0.01 < shares["adyen"] / len(decisions) < 0.05  # about half of the 5% explored
    reasons = Counter(decision.candidates[0].reason for decision in decisions)
    assert 0.03 < reasons["bandit:explore"] / len(decisions) < 0.07


def test_thompson_sampling_without_history_spreads_evenly() -> None:
    routing = parse_config({"processors": ["stripe", "adyen"], "strategy": {"name": "success_rate",
                                                                            "exploration_share": 0}})
    shares = firsts(routing, [CARD] * 10_000)
    assert abs(shares["stripe"] / 10_000 - 0.5) < 0.03


def test_cost_puts_the_cheapest_first() -> None:
    routing = config("cost")
    # $100 credit: stripe 290 + 30 = 320, adyen 200 + 12 = 212, braintree 259 + 49 = 308.
    assert route(CARD, routing, NO_HISTORY, random.Random()).processors == ["adyen", "braintree", "stripe"]
    small = replace(CARD, amount=1_000)  # stripe 59, adyen 32, braintree 75
    assert route(small, routing, NO_HISTORY, random.Random()).processors == ["adyen", "stripe", "braintree"]


def test_objective_trades_approval_against_fee() -> None:
    routing = parse_config({"processors": ["premium", "cheap"], "strategy": "objective", "fees": {
        "premium": {"percent_bps": 290, "fixed_minor": 30}, "cheap": {"percent_bps": 50, "fixed_minor": 10}}})
    counts = FixedCounts({"premium": (98, 0), "cheap": (94, 4)})  # posterior means 99/100 and 95/100
    # $100.00: premium 0.99 × 10,000 − 320 = 9,580; cheap 0.95 × 10,000 − 60 = 9,440.
    assert route(CARD, routing, counts, random.Random()).processors == ["premium", "cheap"]
    # $10.00: premium 990 − 59 = 931; cheap 950 − 15 = 935: the fee now outweighs 4 points of approval.
    assert route(replace(CARD, amount=1_000), routing, counts, random.Random()).processors == ["cheap", "premium"]


def test_objective_with_thompson_draws_mostly_agrees_with_the_mean() -> None:
    routing = parse_config({"processors": ["premium", "cheap"], "strategy": {"name": "objective", "thompson": True},
                            "fees": {"premium": {"percent_bps": 290, "fixed_minor": 30},
                                     "cheap": {"percent_bps": 50, "fixed_minor": 10}}})
    counts = FixedCounts({"premium": (9_800, 0), "cheap": (9_400, 400)})
    assert firsts(routing, [CARD] * 1_000, counts)["premium"] > 950


def test_a_matching_rule_limits_the_processors() -> None:
    rules = [{"id": "debit", "conditions": {"fundings": ["debit"]}, "processors": ["stripe", "braintree"]}]
    debit = replace(CARD, funding="debit")  # adyen, the cheapest for debit, is not in the rule
    decision = route(debit, config("rules_only", rules=rules), NO_HISTORY, random.Random())
    assert decision.processors == ["stripe", "braintree"] and decision.candidates[0].reason == "rule:debit"
    decision = route(debit, config("cost", rules=rules), NO_HISTORY, random.Random())
    assert decision.processors == ["braintree", "stripe"] and decision.candidates[0].reason == "rule:debit+cost"
    decision = route(CARD, config("rules_only", rules=rules), NO_HISTORY, random.Random())
    assert decision.processors == PROCESSORS and decision.candidates[0].reason == "default"


def test_unavailable_processors_go_last_and_are_never_dropped() -> None:
    routing = config("cost")  # adyen, braintree, stripe
    decision = route(CARD, routing, NO_HISTORY, random.Random(), unavailable={"adyen"})
    assert decision.processors == ["braintree", "stripe", "adyen"]
    assert [candidate.reason for candidate in decision.candidates] == ["cost", "cost", "unavailable"]
    every = route(CARD, routing, NO_HISTORY, random.Random(), unavailable=set(PROCESSORS))
    assert every.processors == ["adyen", "braintree", "stripe"]
    assert route(CARD, routing, NO_HISTORY, random.Random(), unavailable={"paypal"}).processors[0] == "adyen"


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"processors": []}, "processors"),
        ({"processors": ["stripe", "stripe"]}, "processors[1]"),
        ({"strategy": "fastest"}, "strategy.name"),
        ({"strategy": {"weights": {"stripe": 1}}}, "strategy: missing field(s) ['name']"),
        ({"strategy": "volume_split"}, "strategy: missing field(s) ['weights']"),
        ({"strategy": {"name": "cost", "weights": {"stripe": 1}}}, "strategy: unknown field(s) ['weights']"),
        ({"strategy": {"name": "volume_split", "weights": {"paypal": 1}}}, "strategy.weights: unknown"),
        ({"strategy": {"name": "volume_split", "weights": {"stripe": -1}}}, "strategy.weights.stripe"),
        ({"strategy": {"name": "volume_split", "weights": {"stripe": 0}}}, "strategy.weights"),
        ({"strategy": {"name": "success_rate", "exploration_share": 1.5}}, "strategy.exploration_share"),
        ({"strategy": {"name": "objective", "thompson": "yes"}}, "strategy.thompson"),
        ({"fees": {"paypal": {}}}, "fees: unknown field(s) ['paypal']"),
        ({"fees": {"stripe": {"percent_bps": -5}}}, "fees.stripe.percent_bps"),
        ({"fees": {"stripe": {}}, "strategy": "cost"}, "fees: the cost strategy needs a fee model"),
        ({"rules": [{"id": "r", "processors": ["paypal"]}]}, "rules[0].processors[0]"),
        ({"rules": [{"id": "r", "processors": ["adyen"], "conditions": {"amount": 5}}]}, "rules[0].conditions"),
        ({"routing": "fast"}, "config: unknown field(s) ['routing']"),
    ],
)
def test_bad_configs_are_refused_naming_the_field(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_config({"processors": PROCESSORS, "fees": FEES, "strategy": "rules_only", **changes})
    assert str(raised.value).startswith(path), str(raised.value)


@given(
    strategy=st.sampled_from(sorted(STRATEGIES)),
    facts=st.fixed_dictionaries({
        "amount": st.integers(0, 10**9), "brand": st.sampled_from(["visa", "amex", None]),
        "funding": st.sampled_from(["credit", "debit", None]), "customer": st.sampled_from(["cus_1", None]),
        "issuing_country": st.sampled_from(["US", "DE", None]),
    }),
    unavailable=st.sets(st.sampled_from(PROCESSORS)),
    counts=st.dictionaries(st.sampled_from(PROCESSORS), st.tuples(st.integers(0, 10**6), st.integers(0, 10**6))),
    seed=st.integers(0, 2**32),
)
def test_every_decision_lists_each_eligible_processor_exactly_once(
        strategy: str, facts: dict[str, Any], unavailable: set[str], counts: dict[str, tuple[int, int]],
        seed: int) -> None:
    rules = [{"id": "amex", "conditions": {"brands": ["amex"]}, "processors": ["braintree", "adyen"]}]
    parameters = SPLIT if strategy == "volume_split" else {"name": strategy}
    context = replace(CARD, **facts)
    decision = route(context, config(parameters, rules=rules), FixedCounts(counts), random.Random(seed), unavailable)
    eligible = ["braintree", "adyen"] if context.brand == "amex" else PROCESSORS
    assert sorted(decision.processors) == sorted(eligible)
    available = [processor for processor in decision.processors if processor not in unavailable]
    assert decision.processors[:len(available)] == available  # the unavailable ones only at the end
    assert decision.strategy == strategy
