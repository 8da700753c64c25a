"""A merchant's routing configuration and the decision for one attempt (`route`)::

    {"processors": ["stripe", "adyen"],
     "fees": {"stripe": {"percent_bps": 290, "fixed_minor": 30}, "adyen": {...}},
     "rules": [{"id": "eu-debit", "conditions": {...}, "processors": ["adyen"]}],
     "strategy": {"name": "success_rate", "exploration_share": 0.05}}

Strategies: "rules_only" (a matching rule's processors in its order, else `processors` in
theirs), "volume_split" (`weights`, integers per processor, 0 when left out),
"success_rate" (`exploration_share`), "cost", "objective" (`thompson`: a posterior draw
instead of the mean). "cost" and "objective" need a fee model for every processor. A
matching rule limits every strategy to its processors. See rules.py, fees.py, orderings.py.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from basketpay.invariant import invariant
from basketpay.routing.fees import FeeModel, parse_fee_model
from basketpay.routing.model import AttemptContext, Candidate, Decision
from basketpay.routing.orderings import (
    FixedCounts,
    Ordering,
    SuccessCounts,
    by_cost,
    by_objective,
    by_success_rate,
    by_weight,
)
from basketpay.routing.parsing import boolean, fail, fields, integer, names, share
from basketpay.routing.rules import Rule, first_match, parse_rules

__all__ = ["STRATEGIES", "FixedCounts", "RoutingConfig", "SuccessCounts", "parse_config", "route"]

STRATEGIES: Mapping[str, frozenset[str]] = {  # each with the parameters it takes
    "rules_only": frozenset(), "volume_split": frozenset({"weights"}),
    "success_rate": frozenset({"exploration_share"}), "cost": frozenset(), "objective": frozenset({"thompson"}),
}
PROCESSORS_MAX = 50
ATTEMPTS_MAX = 5  # per payment, the first included: networks frown on more
BUDGET_MS_MAX = 30_000
WEIGHT_MAX = 1_000_000
# Thompson sampling all but stops sending to a processor it is confident is worse; 5% keeps
# its counts fresh enough to notice when it recovers.
EXPLORATION_SHARE_DEFAULT = 0.05


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Soft declines cascade to the next processor while attempts and time remain; one attempt
    (the default) means never."""

    max_attempts: int = 1
    budget_ms: int = 0


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    processors: tuple[str, ...]  # the order "rules_only" uses when no rule matches, and ties break by
    strategy: str
    rules: tuple[Rule, ...] = ()
    fees: Mapping[str, FeeModel] = field(default_factory=dict)
    weights: Mapping[str, int] = field(default_factory=dict)
    exploration_share: float = EXPLORATION_SHARE_DEFAULT
    objective_thompson: bool = False
    retry: RetryPolicy = RetryPolicy()


def route(context: AttemptContext, config: RoutingConfig, counts: SuccessCounts, rng: random.Random,
          unavailable: AbstractSet[str] = frozenset()) -> Decision:
    """Every eligible processor once, in the order to try them. `unavailable` ones (open
    breakers) go last, in the strategy's order, rather than away: when every one is out the
    caller still gets a list and decides whether to try."""
    rule = first_match(config.rules, context)
    eligible = config.processors if rule is None else rule.processors
    processors, reason = _order(config, rule, eligible, context, counts, rng)
    invariant(len(processors) == len(eligible) and set(processors) == set(eligible),
              "a strategy orders each eligible processor exactly once")
    if rule is not None and config.strategy != "rules_only":
        reason = f"rule:{rule.id}+{reason}"
    return Decision((*(Candidate(processor, reason) for processor in processors if processor not in unavailable),
                     *(Candidate(processor, "unavailable") for processor in processors if processor in unavailable)),
                    config.strategy, max_attempts=config.retry.max_attempts, budget_ms=config.retry.budget_ms)


def _order(config: RoutingConfig, rule: Rule | None, eligible: Sequence[str], context: AttemptContext,
           counts: SuccessCounts, rng: random.Random) -> Ordering:
    match config.strategy:
        case "rules_only":
            return list(eligible), "default" if rule is None else f"rule:{rule.id}"
        case "volume_split":
            return by_weight(eligible, config.weights, context.customer, rng)
        case "success_rate":
            return by_success_rate(eligible, context.segment, counts, config.exploration_share, rng)
        case "cost":
            return by_cost(eligible, context, config.fees)
        case "objective":
            return by_objective(eligible, context, config.fees, counts, rng if config.objective_thompson else None)
    raise ValueError(f"unknown routing strategy {config.strategy!r}")


def parse_config(data: dict[str, Any]) -> RoutingConfig:
    """The whole configuration, checked; a ValueError names the field at fault by its path."""
    config = fields(data, "config", {"processors", "fees", "rules", "strategy", "retry"},
                    required={"processors", "strategy"})
    processors = names(config["processors"], "processors", count_max=PROCESSORS_MAX)
    name, parameters = _strategy(config["strategy"])
    return RoutingConfig(
        processors=processors, strategy=name, rules=_rules(config.get("rules", []), processors),
        fees=_fees(config.get("fees", {}), processors, name),
        weights=_weights(parameters["weights"], processors) if name == "volume_split" else {},
        exploration_share=share(parameters.get("exploration_share", EXPLORATION_SHARE_DEFAULT),
                                "strategy.exploration_share"),
        objective_thompson=boolean(parameters.get("thompson", False), "strategy.thompson"),
        retry=_retry(config.get("retry", {})),
    )


def _retry(data: Any) -> RetryPolicy:
    retry = fields(data, "retry", {"max_attempts", "budget_ms"})
    return RetryPolicy(integer(retry.get("max_attempts", 1), "retry.max_attempts", minimum=1, maximum=ATTEMPTS_MAX),
                       integer(retry.get("budget_ms", 0), "retry.budget_ms", maximum=BUDGET_MS_MAX))


def _strategy(value: Any) -> tuple[str, Mapping[str, Any]]:
    """"cost", or {"name": "volume_split", "weights": {...}}: with only the parameters it takes."""
    parameters = fields({"name": value} if isinstance(value, str) else value, "strategy",
                        {"name", *(parameter for taken in STRATEGIES.values() for parameter in taken)},
                        required={"name"})
    name = parameters["name"]
    if name not in STRATEGIES:
        fail("strategy.name", f"{name!r} is not one of {sorted(STRATEGIES)}")
    fields(parameters, "strategy", {"name", *STRATEGIES[name]},
           required={"name", "weights"} if name == "volume_split" else {"name"})
    return name, parameters


def _rules(data: Any, processors: Sequence[str]) -> tuple[Rule, ...]:
    rules = parse_rules(data, "rules")
    for index, rule in enumerate(rules):
        for position, processor in enumerate(rule.processors):
            if processor not in processors:
                fail(f"rules[{index}].processors[{position}]", f"{processor!r} is not one of processors")
    return tuple(rules)


def _fees(data: Any, processors: Sequence[str], strategy: str) -> dict[str, FeeModel]:
    given = fields(data, "fees", set(processors))
    fees = {name: parse_fee_model(model, f"fees.{name}") for name, model in given.items()}
    missing = [processor for processor in processors if processor not in fees]
    if strategy in ("cost", "objective") and missing:
        fail("fees", f"the {strategy} strategy needs a fee model for every processor; none for {missing}")
    return fees


def _weights(data: Any, processors: Sequence[str]) -> dict[str, int]:
    weights = {name: integer(weight, f"strategy.weights.{name}", maximum=WEIGHT_MAX)
               for name, weight in fields(data, "strategy.weights", set(processors)).items()}
    if not any(weights.values()):
        fail("strategy.weights", "at least one processor needs a weight above 0")
    return weights
