"""Unknown outcomes against a real HTTP processor. With 20% of replies lost (the
Stripe-compatible sandbox carries the request out, then drops the connection) and 5%
of 5xx, 1,000 payments go through the API and the sweeper then resolves what was left
in flight. Afterwards the processor's books and basketpay's agree: every charge at
the processor matches exactly one basketpay attempt, nothing is charged twice, and no
attempt is left unknown."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from basketpay.payments.tables import payment_attempts, payment_intents
from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.server import ServerProcess
from basketpay.settings import Settings
from tests.conftest import server_env
from tests.helpers import drive_payments, sweep_once

PAYMENTS = 1000
CLIENTS = 8
LEASE_SECONDS = 2.0
TIMEOUT_MS = 1000
FAULTS = {"error_rate": 0.05, "reply_lost_rate": 0.20, "seed": 20261125}
SWEEPS_MAX = 10


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[SandboxProcesses]:
    processes = SandboxProcesses().start()
    yield processes
    processes.stop()


def stripe_env(sandboxes: SandboxProcesses) -> dict[str, str]:
    return {
        "BASKETPAY_DEFAULT_CONNECTOR": "stripe", "BASKETPAY_STRIPE_API_BASE": sandboxes.urls["stripe"],
        "BASKETPAY_STRIPE_SEARCH_GRACE_SECONDS": "0",  # the sandbox's search is immediate
        "BASKETPAY_STRIPE_SECRET_KEY": "sk_test_recovery", "BASKETPAY_IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS),
        "BASKETPAY_PROCESSOR_TIMEOUT_MS": str(TIMEOUT_MS), "BASKETPAY_SWEEPER_INTERVAL_SECONDS": "3600",
        "BASKETPAY_RATE_LIMIT_REQUESTS_PER_SECOND": "100000", "BASKETPAY_LOG_LEVEL": "WARNING",
    }


def sweep_until_settled(settings: Settings, engine: Engine, merchant_id: str) -> int:
    for sweep in range(1, SWEEPS_MAX + 1):
        sweep_once(settings)
        if not pending_attempts(engine, merchant_id):
            return sweep
    return SWEEPS_MAX + 1


def pending_attempts(engine: Engine, merchant_id: str) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(payment_attempts.c.id).where(
            payment_attempts.c.merchant_id == merchant_id, payment_attempts.c.status == "pending")))


def test_books_agree_after_lost_replies_and_errors(
    sandboxes: SandboxProcesses, database_url: str, data_dir: Path, merchant: tuple[str, str], engine: Engine,
    settings: Settings,
) -> None:
    httpx.post(sandboxes.urls["stripe"] + "/__sandbox/faults", json=FAULTS).raise_for_status()
    server = ServerProcess(database_url, env=server_env(data_dir, **stripe_env(sandboxes))).start()
    try:
        statuses = drive_payments(server.base_url, merchant[1], PAYMENTS, CLIENTS)
    finally:
        server.stop()
        httpx.post(sandboxes.urls["stripe"] + "/__sandbox/faults", json={"error_rate": 0, "reply_lost_rate": 0})
    assert statuses[202] > PAYMENTS * 0.1, statuses  # the faults really happened
    assert set(statuses) <= {200, 202, 409}, statuses

    time.sleep(LEASE_SECONDS + 0.2)
    sweep_settings = settings.model_copy(update={
        "default_connector": "stripe", "stripe_api_base": sandboxes.urls["stripe"], "stripe_search_grace_seconds": 0,
        "stripe_secret_key": Settings(stripe_secret_key="sk_test_recovery").stripe_secret_key,
        "idempotency_lease_seconds": LEASE_SECONDS, "processor_timeout_ms": TIMEOUT_MS,
    })
    assert sweep_until_settled(sweep_settings, engine, merchant[0]) <= SWEEPS_MAX
    assert_books_agree(httpx.get(sandboxes.urls["stripe"] + "/__sandbox/payment_intents").json(), engine, merchant[0])


def assert_books_agree(processor_intents: list[dict[str, Any]], engine: Engine, merchant_id: str) -> None:
    with engine.connect() as connection:
        intents = {row.id: row for row in connection.execute(
            select(payment_intents).where(payment_intents.c.merchant_id == merchant_id))}
        authorizations = connection.execute(select(payment_attempts).where(
            payment_attempts.c.merchant_id == merchant_id, payment_attempts.c.operation == "authorize",
            payment_attempts.c.status == "succeeded")).all()
    charges = [pi for pi in processor_intents if pi["metadata"].get("basketpay_payment_intent") in intents
               and pi["status"] in ("requires_capture", "succeeded", "canceled")]
    by_reference = Counter(attempt.processor_reference for attempt in authorizations)
    assert len(charges) == len(authorizations) > PAYMENTS * 0.5
    for charge in charges:
        assert by_reference[charge["id"]] == 1, charge  # exactly one attempt for every processor charge
        ours = intents[charge["metadata"]["basketpay_payment_intent"]]
        assert ours.processor_reference == charge["id"]
        assert (ours.amount_received, ours.amount_capturable) == (charge["amount_received"], charge["amount_capturable"])
    per_intent = Counter(charge["metadata"]["basketpay_payment_intent"] for charge in charges)
    assert max(per_intent.values()) == 1  # never charged twice for one payment
    assert all(row.status != "processing" for row in intents.values())
