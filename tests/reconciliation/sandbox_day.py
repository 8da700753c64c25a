"""A day of payments through a sandbox processor, its settlement files (with injected
discrepancies), and reconciliation run in process against the test database."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine

from basketpay.ledger import chart
from basketpay.reconciliation.service import run_with
from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.server import ServerProcess
from basketpay.settings import Settings
from tests.conftest import server_env
from tests.helpers import card, post

HMAC_KEY_HEX = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
WAIT_SECONDS_MAX = 15.0


@dataclass
class Processor:
    name: str
    server: ServerProcess
    sandbox_url: str
    settlement_dir: Path


def start(processor: str, database_url: str, data_dir: Path, **extra_env: str) -> Iterator[Processor]:
    settlement_dir = data_dir / f"settlement-{processor}-{time.time_ns()}"
    server = ServerProcess(database_url, log_path=data_dir / f"reconciliation-{processor}.log", worker=True)
    args = ["--settlement-dir", str(settlement_dir)]
    if processor == "adyen":
        args += ["--adyen-webhook-url", server.base_url + "/v1/processor_webhooks/adyen",
                 "--adyen-hmac-key-hex", HMAC_KEY_HEX]
    sandboxes = SandboxProcesses(args).start()
    env = {"stripe": {"BASKETPAY_STRIPE_API_BASE": sandboxes.urls["stripe"], "BASKETPAY_STRIPE_SECRET_KEY": "sk_test_r"},
           "adyen": {"BASKETPAY_ADYEN_API_BASE": sandboxes.urls["adyen"], "BASKETPAY_ADYEN_API_KEY": "test-key",
                     "BASKETPAY_ADYEN_HMAC_KEY_HEX": HMAC_KEY_HEX}}[processor]
    server.env = server_env(data_dir, BASKETPAY_DEFAULT_CONNECTOR=processor, BASKETPAY_SWEEPER_INTERVAL_SECONDS="3600",
                            **env, **extra_env)
    server.start()
    try:
        yield Processor(processor, server, sandboxes.urls[processor], settlement_dir)
    finally:
        server.stop()
        sandboxes.stop()


def _settled(http: httpx.Client, path: str, field: str, value: Any) -> dict[str, Any]:
    """Adyen answers captures and refunds 202 and completes them by notification."""
    deadline = time.monotonic() + WAIT_SECONDS_MAX
    while True:
        found: dict[str, Any] = http.get(path).json()
        if found[field] == value or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def pay(http: httpx.Client, amount: int, captures: list[int] | None = None) -> dict[str, Any]:
    """Authorize `amount` and capture it (in `captures` parts, the last one final)."""
    intent = post(http, "/v1/payment_intents", {"amount": amount, "currency": "usd", "capture_method": "manual",
                                               "payment_method": card(http), "confirm": True}).json()
    path = f"/v1/payment_intents/{intent['id']}"
    parts = captures or [amount]
    for index, part in enumerate(parts):
        response = post(http, path + "/capture", {"amount_to_capture": part, "final_capture": index == len(parts) - 1})
        assert response.status_code in (200, 202), response.text
        _settled(http, path, "amount_received", sum(parts[: index + 1]))
    return _settled(http, path, "status", "succeeded")


def refund(http: httpx.Client, intent: dict[str, Any], amount: int) -> None:
    response = post(http, "/v1/refunds", {"payment_intent": intent["id"], "amount": amount})
    assert response.status_code in (200, 202), response.text
    _settled(http, f"/v1/refunds/{response.json()['id']}", "status", "succeeded")


def inject(processor: Processor, faults: list[dict[str, Any]]) -> None:
    answer = httpx.post(processor.sandbox_url + "/__sandbox/settlement_faults", json={"faults": faults})
    assert answer.status_code == 200, answer.text


def settlement_files(processor: Processor, day: dt.date) -> list[Path]:
    answer = httpx.post(processor.sandbox_url + "/__sandbox/settlement", params={"date": day.isoformat()})
    assert answer.status_code == 200, answer.text
    return [Path(path) for path in answer.json()["paths"]]


def in_process(settings: Settings, work: Any) -> Any:
    return run_with(settings, work)


def breaks(engine: Engine, merchant_id: str) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text(
            "SELECT * FROM reconciliation_breaks WHERE merchant_id = :m ORDER BY seq"), {"m": merchant_id}))


def clearing_balance(engine: Engine, merchant_id: str, processor: str, currency: str = "USD") -> int:
    account = chart.account_id(merchant_id, chart.processor_clearing(processor), currency)
    with engine.connect() as connection:
        return int(connection.execute(text(
            "SELECT coalesce(sum(amount), 0) FROM ledger_postings WHERE account_id = :a AND phase = 0"),
            {"a": account}).scalar_one())
