"""Routing over HTTP: a merchant's versioned configuration, a dry run of the decision, rules
sending payments to the processor they name, and failover: with the Stripe-compatible
sandbox down, its breaker opens after a few failures, payments go to the in-process
sandbox, and once the outage is over a probe closes the breaker again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.server import ServerProcess
from tests.conftest import server_env
from tests.helpers import card, post

MASTERCARD = "5555555555554444"
VISA_DEBIT = "4000056655665556"  # no fixed outcome at the sandboxes: their behaviour model answers
LOST_CARD = "4000000000009987"
COOLDOWN_SECONDS = 1.0
CALLS_MIN = 3


@pytest.fixture(scope="module")
def routed(database_url: str, data_dir: Path) -> Iterator[tuple[ServerProcess, str]]:
    sandboxes = SandboxProcesses().start()
    env = server_env(
        data_dir, BASKETPAY_STRIPE_API_BASE=sandboxes.urls["stripe"], BASKETPAY_STRIPE_SECRET_KEY="sk_test_routing",
        BASKETPAY_STRIPE_SEARCH_GRACE_SECONDS="0", BASKETPAY_ROUTING_BREAKER_CALLS_MIN=str(CALLS_MIN),
        BASKETPAY_ROUTING_BREAKER_COOLDOWN_SECONDS=str(COOLDOWN_SECONDS), BASKETPAY_PROCESSOR_TIMEOUT_MS="2000",
        BASKETPAY_IDEMPOTENCY_LEASE_SECONDS="3", BASKETPAY_SWEEPER_INTERVAL_SECONDS="0.5")
    server = ServerProcess(database_url, env=env, log_path=data_dir / "routing-server.log").start()
    yield server, sandboxes.urls["stripe"]
    server.stop()
    sandboxes.stop()


@pytest.fixture()
def shop(routed: tuple[ServerProcess, str], merchant: tuple[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=routed[0].base_url, headers={"Authorization": f"Bearer {merchant[1]}"},
                      timeout=30) as http:
        yield http


BY_BRAND: dict[str, Any] = {
    "processors": ["sandbox", "stripe"],
    "rules": [{"id": "mastercard-to-stripe", "conditions": {"brands": ["mastercard"]}, "processors": ["stripe", "sandbox"]}],
    "strategy": "rules_only",
}


def _pay(shop: httpx.Client, number: str = "4242424242424242") -> httpx.Response:
    return post(shop, "/v1/payment_intents", {"amount": 2_500, "currency": "usd", "capture_method": "manual",
                                              "payment_method": card(shop, number), "confirm": True})


def test_configs_are_versioned_audited_and_checked(shop: httpx.Client, merchant: tuple[str, str],
                                                   engine: Engine) -> None:
    assert shop.get("/v1/routing/config").status_code == 404  # none yet: the default processor
    first = post(shop, "/v1/routing/config", {"config": BY_BRAND, "note": "mastercard via stripe"}, key=None)
    assert (first.status_code, first.json()["version"]) == (200, 1), first.text
    cheaper = {**BY_BRAND, "rules": []}
    assert post(shop, "/v1/routing/config", {"config": cheaper}, key=None).json()["version"] == 2
    bad = post(shop, "/v1/routing/config", {"config": {**BY_BRAND, "rules": [{"id": "x", "conditions": {"brand": []},
                                                                               "processors": ["stripe"]}]}}, key=None)
    assert bad.status_code == 400 and "rules[0].conditions" in bad.json()["error"]["message"]
    unknown = post(shop, "/v1/routing/config",
                   {"config": {**BY_BRAND, "processors": ["sandbox", "stripe", "worldpay"]}}, key=None)
    assert unknown.status_code == 400 and "worldpay" in unknown.json()["error"]["message"]
    back = post(shop, "/v1/routing/config/rollback", {"version": 1}, key=None).json()
    assert (back["version"], back["config"], back["note"]) == (3, BY_BRAND, "rollback to version 1")
    assert [v["version"] for v in shop.get("/v1/routing/config/versions").json()["data"]] == [3, 2, 1]
    with engine.connect() as connection:
        audited = connection.execute(text(
            "SELECT detail->>'version' FROM audit_log WHERE action = 'routing.config_changed' AND object_id = :m"
            " ORDER BY id"), {"m": merchant[0]}).scalars().all()
    assert audited == ["1", "2", "3"]


def test_rules_send_each_payment_where_they_say(shop: httpx.Client) -> None:
    post(shop, "/v1/routing/config", {"config": BY_BRAND}, key=None)
    dry = post(shop, "/v1/routing/decide", {"amount": 2_500, "currency": "USD", "brand": "mastercard"}, key=None).json()
    assert [c["processor"] for c in dry["candidates"]] == ["stripe", "sandbox"]
    assert dry["candidates"][0]["reason"].startswith("rule:mastercard-to-stripe")
    visa, mastercard = _pay(shop).json(), _pay(shop, MASTERCARD).json()
    assert (visa["status"], visa["connector"]) == ("requires_capture", "sandbox")
    assert (mastercard["status"], mastercard["connector"]) == ("requires_capture", "stripe")


def test_an_outage_opens_the_breaker_payments_fail_over_and_it_recovers(
        shop: httpx.Client, routed: tuple[ServerProcess, str]) -> None:
    config = {"processors": ["stripe", "sandbox"], "rules": [], "strategy": "rules_only"}
    post(shop, "/v1/routing/config", {"config": config}, key=None)
    faults = routed[1] + "/__sandbox/faults"
    httpx.post(faults, json={"outage": True}).raise_for_status()
    try:
        during = [_pay(shop) for _ in range(CALLS_MIN + 5)]
    finally:
        httpx.post(faults, json={"outage": False}).raise_for_status()
    # The first calls reach the dead processor (their outcome unknown: 202, the sweeper resolves
    # them); once the breaker has seen enough failures (at most CALLS_MIN, fewer if the window
    # already held calls), payments go to the sandbox instead.
    failed_over = next(index for index, response in enumerate(during) if response.status_code == 200)
    assert 1 <= failed_over <= CALLS_MIN + 2  # + what calls left before the batched outcomes were written
    assert all(response.status_code == 202 for response in during[:failed_over])
    assert all(r.status_code == 200 and r.json()["connector"] == "sandbox" for r in during[failed_over:])
    assert 'basketpay_routing_breaker_state{processor="stripe"} 2.0' in shop.get("/metrics").text
    time.sleep(COOLDOWN_SECONDS + 0.2)
    probe = _pay(shop).json()  # half-open: a probe goes to stripe, succeeds, and closes the breaker
    assert (probe["status"], probe["connector"]) == ("requires_capture", "stripe")
    assert _pay(shop).json()["connector"] == "stripe"
    for stuck in during[:failed_over]:  # the sweeper resolves what the outage left unknown
        _settled(shop, stuck.json()["id"])
    _closed(shop, "stripe")  # the next tests route to stripe again


def _closed(shop: httpx.Client, processor: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if f'basketpay_routing_breaker_state{{processor="{processor}"}} 0.0' in shop.get("/metrics").text:
            return
        time.sleep(0.1)
    raise AssertionError(f"{processor}'s breaker did not close")


def _settled(shop: httpx.Client, intent_id: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if shop.get(f"/v1/payment_intents/{intent_id}").json()["status"] != "processing":
            return
        time.sleep(0.2)
    raise AssertionError(f"{intent_id} is still processing")


def _attempts(engine: Engine, intent_id: str) -> list[tuple[str, str, str | None]]:
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT connector, status, decline_code FROM payment_attempts WHERE payment_intent_id = :id"
            " ORDER BY created_at"), {"id": intent_id}).all()
    return [(row.connector, row.status, row.decline_code) for row in rows]


def test_soft_declines_cascade_hard_ones_never(shop: httpx.Client, routed: tuple[ServerProcess, str],
                                               engine: Engine) -> None:
    behaviour = routed[1] + "/__sandbox/behaviour"
    config = {"processors": ["stripe", "sandbox"], "rules": [], "strategy": "rules_only",
              "retry": {"max_attempts": 2, "budget_ms": 10_000}}
    post(shop, "/v1/routing/config", {"config": config}, key=None)
    httpx.post(behaviour, json={"approval_rate": 0.0, "soft_decline_codes": ["do_not_honor"]}).raise_for_status()
    try:
        soft = _pay(shop, VISA_DEBIT)
        hard = _pay(shop, LOST_CARD)
        post(shop, "/v1/routing/config", {"config": {**config, "retry": {"max_attempts": 1}}}, key=None)
        single = _pay(shop, VISA_DEBIT)
    finally:
        httpx.post(behaviour, json={"approval_rate": 1.0}).raise_for_status()
    # Declined softly by the first processor, approved by the next: one request, two attempts.
    assert (soft.status_code, soft.json()["connector"]) == (200, "sandbox"), soft.text
    assert _attempts(engine, soft.json()["id"]) == [("stripe", "declined", "do_not_honor"),
                                                    ("sandbox", "succeeded", None)]
    captured = post(shop, f"/v1/payment_intents/{soft.json()['id']}/capture", {})
    assert captured.json()["status"] == "succeeded"  # captured at the sandbox, which authorized it
    # A lost card is a hard decline: never sent anywhere else.
    assert hard.status_code == 402 and hard.json()["error"]["decline_code"] == "lost_card"
    assert len(_attempts(engine, hard.json()["error"]["payment_intent"]["id"])) == 1
    # One attempt allowed: the soft decline is the answer.
    assert single.status_code == 402 and single.json()["error"]["decline_code"] == "do_not_honor"


def test_rules_see_funding_and_issuing_country_from_the_bin(shop: httpx.Client) -> None:
    config = {"processors": ["sandbox", "stripe"], "strategy": "rules_only", "rules": [
        {"id": "us-debit", "conditions": {"fundings": ["debit"], "issuing_countries": ["US"]},
         "processors": ["stripe", "sandbox"]}]}
    post(shop, "/v1/routing/config", {"config": config}, key=None)
    assert _pay(shop, VISA_DEBIT).json()["connector"] == "stripe"  # 4000 0566 …: a US debit card
    assert _pay(shop, "4000002500000003").json()["connector"] == "sandbox"  # a French credit card


def _experiment(shop: httpx.Client, treatment: dict[str, Any], **extra: Any) -> dict[str, Any]:
    control = {"processors": ["sandbox"], "strategy": "rules_only"}
    created = post(shop, "/v1/routing/experiments", {
        "name": "stripe vs sandbox", "unit": "payment",
        "arms": [{"name": "control", "share": 5_000, "config": control},
                 {"name": "stripe", "share": 5_000, "config": treatment}], **extra}, key=None)
    assert created.status_code == 200, created.text
    return created.json()  # type: ignore[no-any-return]


def test_an_experiment_splits_payments_and_reports_per_arm(shop: httpx.Client) -> None:
    treatment = {"processors": ["stripe"], "strategy": "rules_only",
                 "fees": {"stripe": {"percent_bps": 290, "fixed_minor": 30}}}
    experiment = _experiment(shop, treatment, baseline_rate=0.9, minimum_detectable_effect=0.02)
    assert experiment["planned_sample_size"] > 3_000  # 90% vs 92%, 5% two-sided, power 80%
    second = post(shop, "/v1/routing/experiments", {"name": "again", "unit": "payment", "planned_sample_size": 100,
                                                    "arms": experiment["arms"][0:1] * 2}, key=None)
    assert second.status_code in (400, 409)
    connectors = [_pay(shop).json()["connector"] for _ in range(40)]
    report = shop.get(f"/v1/routing/experiments/{experiment['id']}").json()
    arms = {arm["name"]: arm["report"] for arm in report["arms"]}
    assert arms["control"]["payments"] + arms["stripe"]["payments"] == 40
    assert arms["stripe"]["payments"] == connectors.count("stripe") > 5
    assert arms["control"]["payments"] == connectors.count("sandbox") > 5
    assert arms["stripe"]["authorization_rate"]["value"] == 1.0
    assert arms["stripe"]["cost_per_authorized_amount"]["value"] == pytest.approx((73 + 30) / 2_500)  # 72.5 rounds up
    assert report["comparisons"][0]["status"] == "collecting"  # far from the planned size: no verdict
    post(shop, f"/v1/routing/experiments/{experiment['id']}/stop", {}, key=None)
    assert _pay(shop).json()["connector"] == "sandbox"  # the merchant's own routing again (none: the default)


def test_the_guardrail_stops_an_arm_that_declines(shop: httpx.Client, routed: tuple[ServerProcess, str]) -> None:
    behaviour = routed[1] + "/__sandbox/behaviour"
    experiment = _experiment(shop, {"processors": ["stripe"], "strategy": "rules_only"}, planned_sample_size=1_000,
                             guardrail={"payments_min": 10, "rate_min": 0.8})
    httpx.post(behaviour, json={"approval_rate": 0.0}).raise_for_status()
    try:
        for _ in range(60):
            _pay(shop, VISA_DEBIT)
    finally:
        httpx.post(behaviour, json={"approval_rate": 1.0}).raise_for_status()
        post(shop, f"/v1/routing/experiments/{experiment['id']}/stop", {}, key=None)
    report = shop.get(f"/v1/routing/experiments/{experiment['id']}").json()
    stripe = next(arm for arm in report["arms"] if arm["name"] == "stripe")
    assert stripe["stopped"] is not None and "below the floor of 80.00%" in stripe["stopped"]
    # Stopped after its first 10-20 payments: its units went to the control arm from then on.
    assert 10 <= stripe["report"]["payments"] <= 25


def test_the_cli_reports_an_experiment(shop: httpx.Client, merchant: tuple[str, str], database_url: str,
                                       data_dir: Path) -> None:
    experiment = _experiment(shop, {"processors": ["stripe"], "strategy": "rules_only"}, planned_sample_size=10)
    for _ in range(30):
        _pay(shop)
    post(shop, f"/v1/routing/experiments/{experiment['id']}/stop", {}, key=None)
    env = {**os.environ, **server_env(data_dir), "BASKETPAY_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "basketpay.cli.main", "experiments", "report", experiment["id"],
               "--merchant", merchant[0]]
    table = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    assert "stripe vs sandbox" in table and "control" in table and "against control" in table
    report = json.loads(subprocess.run([*command, "--json"], env=env, capture_output=True, text=True,
                                       check=True).stdout)
    assert sum(arm["report"]["payments"] for arm in report["arms"]) == 30
    assert report["comparisons"][0]["status"] in ("significant", "not_significant")  # past its planned size


def test_a_busy_process_never_waits_on_its_own_pool_for_the_routing_configuration(
        database_url: str, data_dir: Path, merchant: tuple[str, str]) -> None:
    """Every confirmation reads the merchant's routing configuration and experiment (cached for
    a few seconds) while it holds a pool connection. Read through a second connection, a burst
    of confirmations on a cold cache took every connection and waited for one more: all of them
    failed with 500 when the pool timed out. With a pool of 2 and 8 at once, all succeed."""
    env = server_env(data_dir, BASKETPAY_DATABASE_POOL_SIZE="2")
    server = ServerProcess(database_url, env=env, log_path=data_dir / "small-pool-server.log").start()
    try:
        with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {merchant[1]}"},
                          timeout=60) as http:
            method = card(http)

            def pay(_: int) -> httpx.Response:
                return post(http, "/v1/payment_intents", {"amount": 1500, "currency": "usd", "payment_method": method,
                                                          "capture_method": "manual", "confirm": True})

            with ThreadPoolExecutor(max_workers=8) as pool:
                started = time.monotonic()
                responses = list(pool.map(pay, range(8)))
        assert [response.status_code for response in responses] == [200] * 8, responses[0].text
        assert {response.json()["status"] for response in responses} == {"requires_capture"}
        assert time.monotonic() - started < 8.0  # nobody sat out a pool timeout (10 s)
    finally:
        server.stop()
