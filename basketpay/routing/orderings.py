"""How each routing strategy orders the eligible processors. Each returns all of them, once
each, first choice first and then the fallbacks in the strategy's own preference, so the
caller can cascade a soft decline or fail over an outage down the list; and a reason.

Ties keep the order the processors were given in (the rule's or the configuration's):
sorts are stable, so an operator's listed preference breaks them.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import accumulate
from typing import Protocol

from basketpay.invariant import invariant
from basketpay.routing.experiments.assignment import BASIS_POINTS, bucket
from basketpay.routing.fees import FeeModel
from basketpay.routing.model import AttemptContext

__all__ = ["FixedCounts", "Ordering", "SuccessCounts", "by_cost", "by_objective", "by_success_rate", "by_weight"]

Ordering = tuple[list[str], str]  # processors, first choice first; the reason


class SuccessCounts(Protocol):
    """Approvals and declines of a processor in a segment: what a health snapshot keeps."""

    def successes_failures(self, processor: str, segment: str) -> tuple[int, int]: ...


@dataclass(frozen=True, slots=True)
class FixedCounts:
    """SuccessCounts from a table, the same in every segment: the fake behind the seam, for
    tests, benchmarks and dry runs. A processor left out has no history, (0, 0)."""

    counts: Mapping[str, tuple[int, int]]

    def successes_failures(self, processor: str, segment: str) -> tuple[int, int]:
        return self.counts.get(processor, (0, 0))


def by_weight(eligible: Sequence[str], weights: Mapping[str, int], unit: str | None, rng: random.Random) -> Ordering:
    """The first choice in proportion to the weights; the rest heaviest first. With a unit (a
    customer) the choice is a hash of it, so the customer keeps her processor from attempt to
    attempt, and in every process. Without one it is `rng`'s."""
    if not any(weights.get(processor, 0) for processor in eligible):
        weights = dict.fromkeys(eligible, 1)  # a rule left only processors the split gives nothing: even split
    line = sorted(eligible)  # the set, not the order it is listed in, decides who owns which points
    cumulative = list(accumulate(weights.get(processor, 0) for processor in line))
    point = _unit_point(line, unit, cumulative[-1]) if unit else rng.randrange(cumulative[-1])
    first = line[bisect_right(cumulative, point)]
    rest = sorted((processor for processor in eligible if processor != first), key=lambda p: -weights.get(p, 0))
    return [first, *rest], "split:" + "/".join(str(weights.get(processor, 0)) for processor in eligible)


def _unit_point(line: Sequence[str], unit: str, total: int) -> int:
    """A point in [0, total) fixed by the unit and the processors: the unit's experiment bucket,
    with the split as the experiment. Weights finer than a basis point of the total are past
    the bucket's resolution."""
    return bucket("split:" + ",".join(line), unit) * total // BASIS_POINTS


def by_success_rate(eligible: Sequence[str], segment: str, counts: SuccessCounts, exploration_share: float,
                    rng: random.Random) -> Ordering:
    """Thompson sampling: order by a draw from each processor's Beta posterior of approval in
    this segment. With probability `exploration_share` the first choice is instead uniform among
    the eligible: a processor whose posterior is confidently worse would otherwise get almost no
    traffic, and its counts would never show that it recovered."""
    draws = {processor: _draw(counts, processor, segment, rng) for processor in eligible}
    ordered = sorted(eligible, key=draws.__getitem__, reverse=True)
    if rng.random() >= exploration_share:
        return ordered, "bandit"
    explored = rng.choice(eligible)
    return [explored, *(processor for processor in ordered if processor != explored)], "bandit:explore"


def by_cost(eligible: Sequence[str], context: AttemptContext, fees: Mapping[str, FeeModel]) -> Ordering:
    expected = {processor: fees[processor].expected_fee(context) for processor in eligible}
    return sorted(eligible, key=expected.__getitem__), "cost"


def by_objective(eligible: Sequence[str], context: AttemptContext, fees: Mapping[str, FeeModel],
                 counts: SuccessCounts, rng: random.Random | None) -> Ordering:
    """Highest expected authorized value less expected fee first: p_approve × amount − fee.
    p_approve is the posterior mean (s+1)/(s+f+2), exact as a fraction; or, given `rng`, a
    Thompson draw, which explores as the bandit does."""
    segment = context.segment
    values: dict[str, Fraction] = {}
    for processor in eligible:
        if rng is None:
            successes, failures = _counts(counts, processor, segment)
            approval = Fraction(successes + 1, successes + failures + 2)
        else:
            approval = Fraction(_draw(counts, processor, segment, rng))
        values[processor] = approval * context.amount - fees[processor].expected_fee(context)
    return sorted(eligible, key=values.__getitem__, reverse=True), "objective"


def _draw(counts: SuccessCounts, processor: str, segment: str, rng: random.Random) -> float:
    successes, failures = _counts(counts, processor, segment)
    return rng.betavariate(successes + 1, failures + 1)


def _counts(counts: SuccessCounts, processor: str, segment: str) -> tuple[int, int]:
    successes, failures = counts.successes_failures(processor, segment)
    invariant(successes >= 0 and failures >= 0, f"{processor} {segment}: counts are never negative")
    return successes, failures
