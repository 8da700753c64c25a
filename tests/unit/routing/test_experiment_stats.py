from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest, chi2_contingency, norm

from basketpay.invariant import InvariantViolation
from basketpay.routing.experiments.stats import (
    ArmOutcomes,
    GuardrailThreshold,
    LatencySummary,
    cost_per_authorized_amount,
    evaluate,
    guardrail,
    rate_difference,
    report,
    sample_size_per_arm,
    two_proportion_test,
    wilson_interval,
)


def counts(authorized: int, payments: int) -> ArmOutcomes:
    return ArmOutcomes(payments=payments, authorized=authorized)


@pytest.mark.parametrize(
    ("successes", "trials", "confidence"),
    [(0, 10, 0.95), (3, 10, 0.95), (10, 10, 0.95), (1, 1, 0.9), (812, 1_000, 0.95), (9_500, 10_000, 0.99),
     (7, 250_000, 0.95), (49_990, 50_000, 0.8)],
)
def test_the_wilson_interval_matches_scipy(successes: int, trials: int, confidence: float) -> None:
    expected = binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="wilson")
    interval = wilson_interval(successes, trials, confidence)
    assert interval.value == successes / trials
    assert interval.low == pytest.approx(expected.low, rel=1e-9, abs=1e-12)
    assert interval.high == pytest.approx(expected.high, rel=1e-9, abs=1e-12)


@given(
    trials=st.integers(1, 10_000_000),
    fraction=st.floats(0, 1),
    confidence=st.floats(0.5, 0.9999),
)
def test_the_wilson_interval_holds_the_observed_rate_within_zero_and_one(
    trials: int, fraction: float, confidence: float
) -> None:
    successes = round(trials * fraction)
    interval = wilson_interval(successes, trials, confidence)
    assert 0.0 <= interval.low <= interval.value <= interval.high <= 1.0


# Newcombe (1998), Statistics in Medicine 17:873-890, table II, method 10: the published vectors.
@pytest.mark.parametrize(
    ("treatment", "control", "low", "high"),
    [((56, 70), (48, 80), 0.0524, 0.3339), ((9, 10), (3, 10), 0.1705, 0.8090), ((6, 7), (2, 7), 0.0582, 0.8062),
     ((5, 56), (0, 29), -0.0381, 0.1926), ((0, 10), (0, 20), -0.1611, 0.2775), ((0, 10), (0, 10), -0.2775, 0.2775),
     ((10, 10), (0, 20), 0.6791, 1.0), ((10, 10), (0, 10), 0.6075, 1.0)],
)
def test_the_difference_interval_matches_newcombes_published_table(
    treatment: tuple[int, int], control: tuple[int, int], low: float, high: float
) -> None:
    difference = rate_difference(counts(*control), counts(*treatment))
    assert difference.value == pytest.approx(treatment[0] / treatment[1] - control[0] / control[1])
    assert (round(difference.low, 4), round(difference.high, 4)) == (low, high)


@given(st.integers(1, 100_000), st.integers(1, 100_000), st.floats(0, 1), st.floats(0, 1))
def test_the_difference_interval_holds_the_observed_difference(
    control_payments: int, treatment_payments: int, control_rate: float, treatment_rate: float
) -> None:
    control = counts(round(control_payments * control_rate), control_payments)
    treatment = counts(round(treatment_payments * treatment_rate), treatment_payments)
    difference = rate_difference(control, treatment)
    assert -1.0 <= difference.low <= difference.value <= difference.high <= 1.0


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((800, 1_000), (830, 1_000)),
        ((4_512, 5_000), (4_430, 5_100)),
        ((18, 20), (11, 20)),
        ((90_100, 100_000), (90_400, 100_000)),
    ],
)
def test_the_z_test_matches_the_pooled_formula_and_the_chi_square_test(
    a: tuple[int, int], b: tuple[int, int]
) -> None:
    (authorized_a, payments_a), (authorized_b, payments_b) = a, b
    pooled = (authorized_a + authorized_b) / (payments_a + payments_b)
    standard_error = math.sqrt(pooled * (1 - pooled) * (1 / payments_a + 1 / payments_b))
    z = (authorized_b / payments_b - authorized_a / payments_a) / standard_error
    table = [[authorized_a, payments_a - authorized_a], [authorized_b, payments_b - authorized_b]]
    chi_square = chi2_contingency(table, correction=False)

    test = two_proportion_test(counts(*a), counts(*b))
    assert test.z == pytest.approx(z, rel=1e-12)
    assert test.p_value == pytest.approx(2 * norm.sf(abs(z)), rel=1e-9)
    assert test.p_value == pytest.approx(chi_square.pvalue, rel=1e-9)
    assert test.z**2 == pytest.approx(chi_square.statistic, rel=1e-9)


def test_the_z_test_is_symmetric_and_finds_nothing_when_every_payment_ended_alike() -> None:
    forward = two_proportion_test(counts(80, 100), counts(90, 100))
    backward = two_proportion_test(counts(90, 100), counts(80, 100))
    assert forward.z > 0 and backward.z == -forward.z and backward.p_value == forward.p_value
    assert two_proportion_test(counts(100, 100), counts(50, 50)).p_value == 1.0
    with pytest.raises(ValueError):
        two_proportion_test(counts(0, 0), counts(1, 1))


@pytest.mark.parametrize(
    ("baseline", "effect", "alpha", "power"),
    [(0.80, 0.01, 0.05, 0.8), (0.5, 0.1, 0.05, 0.8), (0.92, -0.02, 0.01, 0.9), (0.1, 0.05, 0.1, 0.95)],
)
def test_the_sample_size_is_the_formula_and_reaches_the_power(
    baseline: float, effect: float, alpha: float, power: float
) -> None:
    treated, mean = baseline + effect, baseline + effect / 2
    null_spread = norm.ppf(1 - alpha / 2) * math.sqrt(2 * mean * (1 - mean))
    alternative_spread = math.sqrt(baseline * (1 - baseline) + treated * (1 - treated))
    expected = math.ceil((null_spread + norm.ppf(power) * alternative_spread) ** 2 / effect**2)

    size = sample_size_per_arm(baseline, effect, alpha, power)
    assert size == expected

    def achieved(per_arm: int) -> float:
        return float(norm.cdf((abs(effect) * math.sqrt(per_arm) - null_spread) / alternative_spread))

    assert achieved(size) >= power > achieved(size - 1)


@pytest.mark.parametrize(("baseline", "effect"), [(0.0, 0.1), (0.95, 0.05), (0.5, 0.0), (1.2, -0.3)])
def test_a_sample_size_for_an_impossible_rate_is_refused(baseline: float, effect: float) -> None:
    with pytest.raises(ValueError):
        sample_size_per_arm(baseline, effect)


def test_latency_percentiles_match_numpy_linear() -> None:
    latencies = np.random.default_rng(7).lognormal(mean=5.0, sigma=0.6, size=2_001)
    summary = LatencySummary()
    for latency in latencies:
        summary.add(float(latency))
    assert summary.exact and summary.mean_ms() == pytest.approx(latencies.mean(), rel=1e-12)
    for percent in (0, 1, 50, 95, 99, 100):
        expected = np.percentile(latencies, percent, method="linear")
        assert summary.percentile_ms(percent) == pytest.approx(expected, rel=1e-12)


def test_latency_memory_is_bounded_and_the_reservoir_stays_a_fair_sample() -> None:
    summary = LatencySummary(samples_max=1_000)
    for latency in range(50_000):
        summary.add(float(latency))
    assert not summary.exact and len(summary._samples) == 1_000 and summary.count == 50_000
    assert summary.mean_ms() == 24_999.5
    assert abs((summary.percentile_ms(50) or 0) - 25_000) < 3_000
    assert abs((summary.percentile_ms(95) or 0) - 47_500) < 1_500
    with pytest.raises(ValueError):
        summary.add(float("nan"))


def simulated_payments(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Fees and authorized value in cents: 90% authorized; 2.9% + 30c on an authorization, 5c on a decline."""
    amount = rng.integers(500, 20_001, size=shape)
    authorized = rng.random(shape) < 0.9
    fees = np.where(authorized, 30 + amount * 29 // 1_000, 5)
    return fees, np.where(authorized, amount, 0)


def summed(fees: np.ndarray, value: np.ndarray) -> ArmOutcomes:
    return ArmOutcomes(
        payments=len(fees), authorized=int((value > 0).sum()), authorized_amount=int(value.sum()),
        fees=int(fees.sum()), fees_squared=int((fees * fees).sum()),
        authorized_amount_squared=int((value * value).sum()), fees_times_authorized_amount=int((fees * value).sum()),
    )


def test_recorded_payments_give_exact_sums_and_the_delta_method_interval() -> None:
    fees, value = simulated_payments(np.random.default_rng(11), (3_000,))
    arm = ArmOutcomes()
    for fee, authorized_value in zip(fees.tolist(), value.tolist(), strict=True):
        arm.record(authorized=authorized_value > 0, amount=authorized_value, fees=fee, latency_ms=120.0, retries=1)
    direct = summed(fees, value)
    assert (arm.fees_squared, arm.fees_times_authorized_amount) == (
        direct.fees_squared, direct.fees_times_authorized_amount)

    ratio = fees.sum() / value.sum()
    residuals = fees - ratio * value
    standard_error = math.sqrt(len(fees) / (len(fees) - 1) * (residuals**2).sum() / value.sum() ** 2)
    cost = cost_per_authorized_amount(arm)
    assert cost is not None and cost.value == pytest.approx(ratio, rel=1e-12)
    assert cost.high - cost.value == pytest.approx(norm.ppf(0.975) * standard_error, rel=1e-6)


def test_the_cost_interval_covers_the_true_cost_about_95_times_in_100() -> None:
    amounts = np.arange(500, 20_001)
    true_ratio = (0.9 * (30 + amounts * 29 // 1_000).mean() + 0.1 * 5) / (0.9 * amounts.mean())
    fees, value = simulated_payments(np.random.default_rng(3), (2_000, 500))
    intervals = [cost_per_authorized_amount(summed(fees[row], value[row])) for row in range(2_000)]
    coverage = np.mean([interval is not None and interval.low <= true_ratio <= interval.high for interval in intervals])
    assert 0.93 < coverage < 0.97


def test_totals_without_their_second_moments_are_refused() -> None:
    with pytest.raises(InvariantViolation):
        cost_per_authorized_amount(ArmOutcomes(payments=100, authorized=90, authorized_amount=90_000, fees=2_700))
    with pytest.raises(InvariantViolation):
        report(counts(11, 10))


def test_a_report_says_none_where_there_is_nothing_to_estimate() -> None:
    empty = report(ArmOutcomes())
    assert empty.authorization_rate is None and empty.cost_per_authorized_amount is None
    assert empty.latency_p95_ms is None and empty.retries_per_payment is None

    arm = ArmOutcomes()
    for index in range(20):
        arm.record(authorized=index % 4 != 0, amount=1_000, fees=32, latency_ms=100.0 + index, retries=index % 2)
    filled = report(arm)
    assert filled.authorization_rate is not None and filled.authorization_rate.value == 0.75
    assert filled.retries_per_payment == 0.5 and filled.latency_p50_ms == 109.5
    assert filled.cost_per_authorized_amount is not None
    assert filled.cost_per_authorized_amount.value == pytest.approx(32 * 20 / 15_000)


def test_evaluate_keeps_collecting_before_the_planned_size_however_large_the_difference() -> None:
    evaluation = evaluate(counts(50, 100), counts(99, 100), planned_sample_size=1_000)
    assert evaluation.status == "collecting" and evaluation.test is None
    assert evaluation.difference is not None and evaluation.difference.low > 0.3


def test_evaluate_decides_once_the_planned_size_is_reached() -> None:
    planned = sample_size_per_arm(0.80, 0.03)
    better = evaluate(counts(round(0.80 * planned), planned), counts(round(0.85 * planned), planned), planned)
    assert better.status == "significant" and better.test is not None and better.test.p_value < 0.05
    same = evaluate(counts(round(0.80 * planned), planned), counts(round(0.805 * planned), planned), planned)
    assert same.status == "not_significant"
    assert same.difference is not None and same.difference.low < 0 < same.difference.high


def test_the_guardrail_stops_a_clearly_bad_arm() -> None:
    control = counts(9_000, 10_000)
    below_floor = guardrail(counts(700, 1_000), control)
    assert below_floor.stop and "below the floor of 80.00%" in below_floor.reason
    below_control = guardrail(counts(8_050, 10_000), control)
    assert below_control.stop and "below control's" in below_control.reason


def test_the_guardrail_does_not_trip_on_a_noisy_small_sample() -> None:
    control = counts(9_000, 10_000)
    assert not guardrail(counts(5, 10), control).stop
    assert "collecting: 10 of 1000" in guardrail(counts(5, 10), control).reason
    # Past its minimum, 15 of 20 is below 80% but the interval's upper bound is not.
    noisy = guardrail(counts(15, 20), control, GuardrailThreshold(payments_min=20, margin_max=0.2))
    assert not noisy.stop and "within the guardrail" in noisy.reason
