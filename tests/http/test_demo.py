"""`basketpay demo`: the whole run (payments, then grocery orders) against a real server,
worker and PostgreSQL, and the pieces that must hold without one (a reproducible plan,
exact money formatting, failures recorded)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from basketpay.demo.client import DemoClient
from basketpay.demo.orders import ORDER_SCENARIOS, plan_orders, run_order
from basketpay.demo.plan import SCENARIO_PERCENT, build_plan, quotas
from basketpay.demo.report import OrderTally, Tally, major_units, orders_table, percentile_ms
from basketpay.demo.run import run_demo, run_one
from basketpay.settings import get_settings


@pytest.mark.parametrize("connector", ["sandbox", "stripe"])
def test_demo_runs_every_scenario_as_expected(
    database_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    connector: str
) -> None:
    monkeypatch.setenv("BASKETPAY_DATABASE_URL", database_url)
    monkeypatch.setenv("BASKETPAY_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    orders = len(ORDER_SCENARIOS)  # each grocery scenario once, all at once: most of their time is the tip window
    try:
        assert run_demo(30, orders, connector, orders) == 0
    finally:
        get_settings.cache_clear()
    printed = capsys.readouterr().out
    assert f"{orders} ok" in printed and "Every order behaved as expected." in printed
    assert all(scenario in printed for scenario in ORDER_SCENARIOS)
    assert "Reconciliation: the Stripe sandbox's settlement files for today" in printed
    assert "Every line matched; no break; every batch's clearing explained." in printed


def test_the_plan_is_reproducible_and_keeps_its_quotas() -> None:
    assert build_plan(120) == build_plan(120)
    scenarios = [payment.scenario for payment in build_plan(120)]
    assert {name: scenarios.count(name) for name in SCENARIO_PERCENT} == {
        name: 120 * share // 100 for name, share in SCENARIO_PERCENT.items()
    }
    assert len(quotas(31, SCENARIO_PERCENT)) == 31


def test_amounts_are_formatted_exactly_in_major_units() -> None:
    assert major_units(123_456_789, "usd") == "USD 1,234,567.89"
    assert major_units(1_500, "jpy") == "JPY 1,500"
    assert major_units(5, "kwd") == "KWD 0.005"
    assert major_units(0, "eur") == "EUR 0.00"


def test_percentiles_use_nearest_rank() -> None:
    latencies_ms = [float(value) for value in range(1, 101)]
    assert (percentile_ms(latencies_ms, 0.5), percentile_ms(latencies_ms, 0.99)) == (50.0, 99.0)
    assert percentile_ms([], 0.5) == 0.0


def test_an_unexpected_status_is_a_failed_scenario_not_a_crash() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(500, json={"error": {"code": "boom"}}))
    tally = Tally()

    async def one() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as http:
            await run_one(DemoClient(http), build_plan(10)[0], tally)

    asyncio.run(one())
    assert tally.payments == 1
    assert len(tally.failures) == 1 and "expected HTTP 200, got 500" in tally.failures[0]


def test_the_orders_cycle_through_every_scenario() -> None:
    assert [order.scenario for order in plan_orders(9)] == [*ORDER_SCENARIOS, *list(ORDER_SCENARIOS)[:2]]
    assert [order.index for order in plan_orders(3)] == [0, 1, 2]


def test_a_failed_order_is_reported_as_far_as_it_got() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(500, json={"error": {"code": "boom"}}))
    tally = OrderTally()

    async def one() -> None:
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as http:
            await run_order(DemoClient(http), http, plan_orders(1)[0], tally)

    asyncio.run(one())
    assert tally.rows[0].status is None
    assert len(tally.failures) == 1 and "expected HTTP 200, got 500" in tally.failures[0]
    console = Console(width=80, record=True)
    console.print(orders_table(tally, 1.0))
    lines = [line.split() for line in console.export_text().splitlines()]
    assert ["0", "substituted", "–", "–", "–", "–", "–", "–", "–", "–", "failed"] in lines
