"""The statistics of a routing experiment, in pure Python: each arm's outcomes kept exact,
its authorization rate, cost per authorized dollar, latency and retries with honest
intervals, a fixed-horizon two-proportion test with the sample size it needs, and a
guardrail that stops a clearly worse arm before the horizon.

The unit is the payment (what an experiment assigns), not the processor attempt: a
payment's retries are counted, its fees summed over all its attempts. Money stays in
integer minor units of one currency per arm; rates become floats only in what is reported.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Literal

from basketpay.invariant import invariant

__all__ = [
    "LATENCY_SAMPLES_MAX",
    "ArmOutcomes",
    "ArmReport",
    "Estimate",
    "Evaluation",
    "GuardrailThreshold",
    "GuardrailVerdict",
    "LatencySummary",
    "Status",
    "ZTest",
    "cost_per_authorized_amount",
    "evaluate",
    "guardrail",
    "rate_difference",
    "report",
    "sample_size_per_arm",
    "two_proportion_test",
    "wilson_interval",
    "z_for",
]

LATENCY_SAMPLES_MAX = 10_000
_STANDARD_NORMAL = NormalDist()


def z_for(confidence: float) -> float:
    """The two-sided standard normal quantile for a confidence level: 1.96 for 0.95."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return _STANDARD_NORMAL.inv_cdf(0.5 + confidence / 2)


class LatencySummary:
    """One arm's latencies in bounded memory: count and sum exactly; percentiles from a uniform
    reservoir of at most `samples_max` samples (Vitter's algorithm R), exact while the count fits
    in it and a uniform sample's percentiles after. Seeded, so the same latencies keep the same sample."""

    __slots__ = ("_random", "_samples", "count", "samples_max", "total_ms")

    def __init__(self, samples_max: int = LATENCY_SAMPLES_MAX, seed: int = 0) -> None:
        if samples_max < 1:
            raise ValueError("a latency reservoir needs room for at least one sample")
        self.count = 0
        self.total_ms = 0.0
        self.samples_max = samples_max
        self._samples: list[float] = []
        self._random = random.Random(seed)

    def add(self, latency_ms: float) -> None:
        if not latency_ms >= 0.0:  # also refuses NaN
            raise ValueError(f"a latency must be a non-negative number of milliseconds, got {latency_ms}")
        self.count += 1
        self.total_ms += latency_ms
        if len(self._samples) < self.samples_max:
            self._samples.append(latency_ms)
            return
        slot = self._random.randrange(self.count)
        if slot < self.samples_max:
            self._samples[slot] = latency_ms

    @property
    def exact(self) -> bool:
        """Whether the percentiles are of every latency rather than of a sample."""
        return self.count <= self.samples_max

    def mean_ms(self) -> float | None:
        return self.total_ms / self.count if self.count else None

    def percentile_ms(self, percent: float) -> float | None:
        """Linear interpolation between the nearest order statistics: Hyndman and Fan's type 7,
        numpy.percentile's default method "linear"."""
        if not 0.0 <= percent <= 100.0:
            raise ValueError(f"a percentile is between 0 and 100, got {percent}")
        if not self._samples:
            return None
        ordered = sorted(self._samples)
        position = (len(ordered) - 1) * percent / 100.0
        below = math.floor(position)
        above = min(below + 1, len(ordered) - 1)
        return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclass(slots=True, eq=False)
class ArmOutcomes:
    """One arm's payments so far, as exact counters. The second moments of each payment's
    (fees, authorized amount) are what the cost interval needs; totals without them are refused."""

    payments: int = 0
    authorized: int = 0
    authorized_amount: int = 0
    fees: int = 0
    retries: int = 0
    fees_squared: int = 0
    authorized_amount_squared: int = 0
    fees_times_authorized_amount: int = 0
    latency: LatencySummary = field(default_factory=LatencySummary)

    def record(self, *, authorized: bool, amount: int, fees: int, latency_ms: float, retries: int = 0) -> None:
        """Count one finished payment; `amount` counts as authorized value only if it was authorized."""
        if amount < 0 or fees < 0 or retries < 0:
            raise ValueError(f"amount, fees and retries cannot be negative: {amount}, {fees}, {retries}")
        self.latency.add(latency_ms)
        value = amount if authorized else 0
        self.payments += 1
        self.authorized += int(authorized)
        self.authorized_amount += value
        self.fees += fees
        self.retries += retries
        self.fees_squared += fees * fees
        self.authorized_amount_squared += value * value
        self.fees_times_authorized_amount += fees * value

    def check(self) -> None:
        """The counters could have come from recorded payments (Cauchy-Schwarz binds each moment to its total)."""
        counters = (self.payments, self.authorized, self.authorized_amount, self.fees, self.retries)
        invariant(min(counters) >= 0 and self.authorized <= self.payments, f"impossible counters {counters}")
        invariant(self.payments * self.fees_squared >= self.fees**2, "fees without a consistent sum of squares")
        invariant(
            self.authorized * self.authorized_amount_squared >= self.authorized_amount**2,
            "authorized amount without a consistent sum of squares",
        )
        invariant(
            self.fees_times_authorized_amount**2 <= self.fees_squared * self.authorized_amount_squared,
            "fees times authorized amount exceeds what the sums of squares allow",
        )


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with the bounds of its confidence interval."""

    value: float
    low: float
    high: float


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> Estimate:
    """The rate successes/trials with its Wilson score interval: unlike rate ± z·se it stays in
    [0, 1] and keeps near its nominal coverage for small counts and rates near 0 or 1."""
    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials >= 1, got {successes}/{trials}")
    z = z_for(confidence)
    rate = successes / trials
    shrink = z * z / trials
    centre = (rate + shrink / 2) / (1 + shrink)
    half = z * math.sqrt(rate * (1 - rate) / trials + shrink / (4 * trials)) / (1 + shrink)
    # At 0 and at 1 a bound equals the rate exactly: pinned, so rounding cannot leave the rate outside.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Estimate(rate, low, high)


def rate_difference(control: ArmOutcomes, treatment: ArmOutcomes, confidence: float = 0.95) -> Estimate:
    """Treatment's authorization rate minus control's, with Newcombe's hybrid score interval
    (method 10 of Newcombe, Statistics in Medicine 1998) built from the two Wilson intervals:
    it keeps their coverage near rates of 0 and 1, where the Wald interval for a difference fails."""
    base = wilson_interval(control.authorized, control.payments, confidence)
    new = wilson_interval(treatment.authorized, treatment.payments, confidence)
    difference = new.value - base.value
    low = difference - math.hypot(new.value - new.low, base.high - base.value)
    high = difference + math.hypot(new.high - new.value, base.value - base.low)
    return Estimate(difference, max(-1.0, low), min(1.0, high))


def cost_per_authorized_amount(arm: ArmOutcomes, confidence: float = 0.95) -> Estimate | None:
    """Fees per unit of authorized value (0.029: 2.9 cents per authorized dollar), with a normal
    interval from the delta method for a ratio of sums; None before two payments and some value.

    With f_i and a_i a payment's fees and authorized amount, R = F/A and
    Var(R) ~ n/(n-1) * sum((f_i - R*a_i)**2) / A**2 (the linearized ratio estimator, Cochran,
    Sampling Techniques, section 6.4). Multiplied by A**2 the sum is
    A**2*sum(f**2) - 2*F*A*sum(f*a) + F**2*sum(a**2): integers, so one division is the only rounding.
    The normal approximation wants a few hundred payments with value not dominated by a few."""
    arm.check()
    count, fees, value = arm.payments, arm.fees, arm.authorized_amount
    if count < 2 or value == 0:
        return None
    spread = (
        value**2 * arm.fees_squared
        - 2 * fees * value * arm.fees_times_authorized_amount
        + fees**2 * arm.authorized_amount_squared
    )
    invariant(spread >= 0, "a sum of squares came out negative")
    half = z_for(confidence) * math.sqrt(count * spread / ((count - 1) * value**4))
    ratio = fees / value
    return Estimate(ratio, max(0.0, ratio - half), ratio + half)


@dataclass(frozen=True, slots=True)
class ArmReport:
    """What a dashboard shows for one arm; None where there is nothing to estimate yet."""

    payments: int
    authorization_rate: Estimate | None
    cost_per_authorized_amount: Estimate | None
    latency_mean_ms: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_exact: bool
    retries_per_payment: float | None


def report(arm: ArmOutcomes, confidence: float = 0.95) -> ArmReport:
    """One arm's rates, cost, latency and retries, each interval at `confidence`."""
    arm.check()
    empty = arm.payments == 0
    return ArmReport(
        payments=arm.payments,
        authorization_rate=None if empty else wilson_interval(arm.authorized, arm.payments, confidence),
        cost_per_authorized_amount=cost_per_authorized_amount(arm, confidence),
        latency_mean_ms=arm.latency.mean_ms(),
        latency_p50_ms=arm.latency.percentile_ms(50),
        latency_p95_ms=arm.latency.percentile_ms(95),
        latency_exact=arm.latency.exact,
        retries_per_payment=None if empty else arm.retries / arm.payments,
    )


@dataclass(frozen=True, slots=True)
class ZTest:
    """A two-sided test of equal authorization rates; z > 0 when the second arm's rate is higher."""

    z: float
    p_value: float


def two_proportion_test(a: ArmOutcomes, b: ArmOutcomes) -> ZTest:
    """The pooled two-proportion z-test: under equal rates both arms share the pooled rate, which
    sets the standard error. z**2 is Pearson's chi-square on the 2x2 table without continuity
    correction, and the p-value is the same."""
    a.check()
    b.check()
    if a.payments == 0 or b.payments == 0:
        raise ValueError("a two-proportion test needs at least one payment in each arm")
    pooled = (a.authorized + b.authorized) / (a.payments + b.payments)
    variance = pooled * (1 - pooled) * (1 / a.payments + 1 / b.payments)
    if variance == 0.0:  # every payment in both arms ended the same way: no evidence of a difference
        return ZTest(0.0, 1.0)
    z = (b.authorized / b.payments - a.authorized / a.payments) / math.sqrt(variance)
    return ZTest(z, math.erfc(abs(z) / math.sqrt(2)))


def sample_size_per_arm(
    baseline_rate: float, minimum_detectable_effect: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Payments each arm needs so the two-sided pooled z-test at level `alpha` detects an absolute
    change of `minimum_detectable_effect` in the rate (0.01: one point) with probability `power`.

    The normal-approximation formula (Fleiss, Levin and Paik, Statistical Methods for Rates and
    Proportions, without the continuity correction), matching `two_proportion_test`:
    the null's standard error from the pooled rate m = (p1 + p2)/2, the alternative's unpooled:
    n = (z(1 - alpha/2)*sqrt(2*m*(1 - m)) + z(power)*sqrt(p1*(1 - p1) + p2*(1 - p2)))**2 / (p2 - p1)**2,
    rounded up."""
    treated = baseline_rate + minimum_detectable_effect
    if not (0 < baseline_rate < 1 and 0 < treated < 1 and minimum_detectable_effect != 0):
        raise ValueError(f"need rates strictly between 0 and 1 that differ: {baseline_rate} -> {treated}")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError(f"alpha and power must be between 0 and 1, got {alpha} and {power}")
    mean = (baseline_rate + treated) / 2
    null_spread = z_for(1 - alpha) * math.sqrt(2 * mean * (1 - mean))
    alternative_spread = _STANDARD_NORMAL.inv_cdf(power) * math.sqrt(
        baseline_rate * (1 - baseline_rate) + treated * (1 - treated)
    )
    return math.ceil((null_spread + alternative_spread) ** 2 / minimum_detectable_effect**2)


Status = Literal["collecting", "significant", "not_significant"]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Where a fixed-horizon experiment stands. Until both arms reach the planned size the status is
    "collecting" and `test` is None whatever the data look like: testing at every look and stopping
    at the first small p-value would make false positives many times `alpha`. `difference`
    (treatment minus control, interval at 1 - alpha) is descriptive until then, not a decision."""

    status: Status
    planned_sample_size: int
    control_payments: int
    treatment_payments: int
    difference: Estimate | None
    test: ZTest | None


def evaluate(
    control: ArmOutcomes, treatment: ArmOutcomes, planned_sample_size: int, alpha: float = 0.05
) -> Evaluation:
    """The experiment's standing: collecting, or once per-arm payments reach the plan, the test's outcome.
    Read the outcome once, when the plan is reached; later payments are not a second chance."""
    if planned_sample_size < 1:
        raise ValueError(f"the planned sample size per arm must be positive, got {planned_sample_size}")
    both = control.payments > 0 and treatment.payments > 0
    difference = rate_difference(control, treatment, 1 - alpha) if both else None
    test: ZTest | None = None
    status: Status = "collecting"
    if min(control.payments, treatment.payments) >= planned_sample_size:
        test = two_proportion_test(control, treatment)
        status = "significant" if test.p_value < alpha else "not_significant"
    return Evaluation(status, planned_sample_size, control.payments, treatment.payments, difference, test)


@dataclass(frozen=True, slots=True)
class GuardrailThreshold:
    """When to stop an arm before the horizon: its rate is surely below `rate_min`, or surely more
    than `margin_max` below control's, once it has `payments_min` payments. "Surely" is at
    `confidence`, 0.99 by default because the guardrail is checked again and again."""

    rate_min: float = 0.80
    margin_max: float = 0.05
    payments_min: int = 1_000
    confidence: float = 0.99


@dataclass(frozen=True, slots=True)
class GuardrailVerdict:
    stop: bool
    reason: str


def guardrail(
    arm: ArmOutcomes, control: ArmOutcomes, threshold: GuardrailThreshold = GuardrailThreshold()
) -> GuardrailVerdict:
    """Whether to stop `arm` now. The floor is judged on the upper bound of the arm's Wilson
    interval; the margin on the upper bound of the difference's Newcombe interval (the arm's
    Wilson upper bound against control's lower one), so noise in neither arm trips it."""
    if arm.payments < threshold.payments_min:
        return GuardrailVerdict(False, f"collecting: {arm.payments} of {threshold.payments_min} payments")
    rate = wilson_interval(arm.authorized, arm.payments, threshold.confidence)
    shown = f"authorization rate {rate.value:.2%} ({threshold.confidence:.0%} interval {rate.low:.2%}-{rate.high:.2%})"
    if rate.high < threshold.rate_min:
        return GuardrailVerdict(True, f"{shown} is below the floor of {threshold.rate_min:.2%}")
    if control.payments > 0:
        gap = rate_difference(control, arm, threshold.confidence)
        if gap.high < -threshold.margin_max:
            return GuardrailVerdict(
                True,
                f"{shown} is more than {threshold.margin_max:.2%} below control's "
                f"(difference {gap.value:+.2%}, interval {gap.low:+.2%} to {gap.high:+.2%})",
            )
    return GuardrailVerdict(False, f"{shown}: within the guardrail")
