from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chi2_contingency, chisquare

from basketpay.routing.experiments.assignment import BASIS_POINTS, Arm, assign, bucket

UNITS = 100_000
SPLITS = {
    "50/50": [Arm("control", 5_000), Arm("treatment", 5_000)],
    "70/20/10": [Arm("control", 7_000), Arm("cheapest", 2_000), Arm("bandit", 1_000)],
    "90/10": [Arm("control", 9_000), Arm("treatment", 1_000)],
}


def test_the_same_unit_lands_in_the_same_arm_every_time() -> None:
    arms = SPLITS["70/20/10"]
    for unit in ("cus_0001", "cus_0007", "ord_000917"):
        assert len({assign("retry-policy-v2", unit, arms) for _ in range(1_000)}) == 1


@pytest.mark.parametrize(
    ("unit", "expected_bucket", "expected_arm"),
    [("cus_0001", 3146, "control"), ("cus_0005", 7065, "cheapest"), ("cus_0007", 9695, "bandit"),
     ("cus_0012", 9295, "bandit"), ("cus_0024", 224, "control")],
)
def test_arms_are_the_same_in_every_process(unit: str, expected_bucket: int, expected_arm: str) -> None:
    # Hard-coded from one run: Python's salted hash() would give other answers in another process.
    assert bucket("retry-policy-v2", unit) == expected_bucket
    assert assign("retry-policy-v2", unit, SPLITS["70/20/10"]) == expected_arm


@pytest.mark.parametrize("split", SPLITS)
def test_shares_over_many_units_match_the_configuration(split: str) -> None:
    arms = SPLITS[split]
    counts = Counter(assign("routing-2026-q1", f"customer-{index}", arms) for index in range(UNITS))
    observed = [counts[arm.name] for arm in arms]
    expected = [UNITS * arm.share / BASIS_POINTS for arm in arms]
    assert sum(observed) == UNITS
    assert chisquare(observed, expected).pvalue > 0.001


def test_a_new_experiment_id_reshuffles_the_units() -> None:
    arms = SPLITS["50/50"]
    pairs = Counter(
        (assign("routing-2026-q1", f"order-{index}", arms), assign("routing-2026-q2", f"order-{index}", arms))
        for index in range(20_000)
    )
    table = [[pairs["control", "control"], pairs["control", "treatment"]],
             [pairs["treatment", "control"], pairs["treatment", "treatment"]]]
    # Independent of the first experiment's arm, not copied from it.
    assert chi2_contingency(table, correction=False).pvalue > 0.001
    assert 0.45 < (table[0][0] + table[1][1]) / 20_000 < 0.55


@pytest.mark.parametrize(
    "arms",
    [
        [Arm("control", 5_000), Arm("treatment", 4_999)],
        [Arm("control", 5_000), Arm("control", 5_000)],
        [Arm("control", 10_000), Arm("treatment", 1)],
        [],
    ],
)
def test_a_split_that_does_not_cover_every_unit_once_is_refused(arms: list[Arm]) -> None:
    with pytest.raises(ValueError):
        assign("routing-2026-q1", "customer-1", arms)


@pytest.mark.parametrize(("name", "share"), [("control", -1), ("control", 10_001), ("", 10_000)])
def test_an_arm_outside_the_basis_points_or_without_a_name_is_refused(name: str, share: int) -> None:
    with pytest.raises(ValueError):
        Arm(name, share)


def test_a_unit_and_an_experiment_id_are_needed() -> None:
    with pytest.raises(ValueError):
        assign("routing-2026-q1", "", SPLITS["50/50"])
    with pytest.raises(ValueError):
        assign("", "customer-1", SPLITS["50/50"])


@given(unit=st.text(min_size=1), experiment_id=st.text(min_size=1))
def test_an_arm_with_no_share_never_gets_a_unit(unit: str, experiment_id: str) -> None:
    arms = [Arm("retired", 0), Arm("control", 6_000), Arm("paused", 0), Arm("treatment", 4_000)]
    assert 0 <= bucket(experiment_id, unit) < BASIS_POINTS
    assert assign(experiment_id, unit, arms) in {"control", "treatment"}
