"""`basketpay simulate routing`, small: the same seeded traffic through the stripe-only
baseline and two routed strategies, against the sandboxes, with stripe down for the middle
half of each run (longer than the CLI's fifth, so that a few hundred payments see the
breaker open)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from basketpay.routing.simulate import SimulationOptions, run_simulation
from basketpay.routing.simulate_processors import BASELINE, PROCESSORS, routing_configs
from basketpay.routing.simulate_report import StrategyResult, print_table
from basketpay.routing.simulate_traffic import MIX, traffic
from basketpay.settings import Settings
from basketpay.vault.cards import luhn_valid
from tests.conftest import server_env

PAYMENTS = 240
OPTIONS = SimulationOptions(payments=PAYMENTS, seed=7, strategies=("volume_split 50/50", "objective + retry"),
                            outage_shares=(0.25, 0.75))


@pytest.fixture(scope="module")
def results(own_settings: Settings, data_dir: Path) -> dict[str, StrategyResult]:
    # A database of its own: the outage leaves attempts the sweeper has not resolved yet.
    ran = run_simulation(own_settings, OPTIONS, Console(quiet=True), server_env(data_dir, BASKETPAY_LOG_LEVEL="WARNING"))
    return {result.name: result for result in ran}


def test_the_traffic_is_a_function_of_the_seed() -> None:
    first = traffic(PAYMENTS, seed=7)
    assert first == traffic(PAYMENTS, seed=7)
    assert first != traffic(PAYMENTS, seed=8)
    assert all(luhn_valid(payment.number) and payment.number.startswith(tuple(MIX)) for payment in first)
    assert all(500 <= payment.amount <= 30_000 for payment in first)
    assert {payment.funding for payment in first} == {"credit", "debit"}
    assert len({payment.issuing_country for payment in first}) > 1


def test_every_strategy_answers_every_payment(results: dict[str, StrategyResult]) -> None:
    assert list(results) == [BASELINE, *OPTIONS.strategies]
    for result in results.values():
        assert (result.payments, result.errors) == (PAYMENTS, 0), result
        assert result.approved + result.declined + result.unknown == PAYMENTS
        assert sum(result.approvals_by_processor.values()) == result.approved
        assert set(result.approvals_by_processor) <= set(PROCESSORS)
        assert result.outage_payments == len(OPTIONS.outage())
        assert 0 < result.fees_minor < result.approved_minor


def test_the_baseline_uses_stripe_alone_and_loses_the_outage(results: dict[str, StrategyResult]) -> None:
    baseline = results[BASELINE]
    assert set(baseline.approvals_by_processor) == {"stripe"}
    assert baseline.outage_unknown > 0.8 * baseline.outage_payments  # what was in flight may still pass


def test_routing_goes_around_the_outage(results: dict[str, StrategyResult]) -> None:
    baseline, split = results[BASELINE], results["volume_split 50/50"]
    # Without the breaker half of the split's outage traffic would go to the dead processor.
    assert split.outage_unknown < 0.35 * split.outage_payments, split
    for name in OPTIONS.strategies:
        routed = results[name]
        assert routed.outage_approved > 2 * baseline.outage_approved + 0.3 * routed.outage_payments, routed
        assert routed.approved > baseline.approved and routed.approved_minor > baseline.approved_minor


def test_the_report_measures_against_the_baseline(results: dict[str, StrategyResult]) -> None:
    console = Console(record=True, width=200)
    rows = print_table(console, list(results.values()), {"payments": PAYMENTS})
    assert [row["strategy"] for row in rows] == list(results)
    assert rows[0]["recovered_minor"] == 0
    for row, result in zip(rows, results.values(), strict=True):
        assert row["recovered_minor"] == result.approved_minor - results[BASELINE].approved_minor
    assert console.export_text().rstrip().splitlines()[-1].startswith('{"payments": 240')
    assert set(routing_configs()) >= set(results)
