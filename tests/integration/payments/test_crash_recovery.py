"""A process killed between the processor call and the commit: never a second charge.

The fault seam (`BASKETPAY_FAULT_CRASH_AFTER_PROCESSOR_CALL`) makes the server exit
right after the processor answered and before phase two commits, which is the
worst moment: the processor has charged, basketpay has no record of the answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from basketpay.connectors.sandbox.tables import sandbox_charges
from basketpay.payments.tables import payment_attempts
from basketpay.server import ServerProcess
from tests.conftest import server_env
from tests.helpers import card, post

LEASE_SECONDS = "1"


@pytest.fixture()
def crashing_server(database_url: str, data_dir: Path) -> Iterator[ServerProcess]:
    env = server_env(
        data_dir, BASKETPAY_FAULT_CRASH_AFTER_PROCESSOR_CALL="true",
        BASKETPAY_IDEMPOTENCY_LEASE_SECONDS=LEASE_SECONDS, BASKETPAY_PROCESSOR_TIMEOUT_MS="500",
    )
    process = ServerProcess(database_url, env=env)
    process.start()
    yield process
    process.stop()


def charges_for(engine: Engine, intent_id: str) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(
            select(func.count()).where(sandbox_charges.c.merchant_reference == intent_id)
        ) or 0)


def sweep(database_url: str, data_dir: Path) -> dict[str, int]:
    env = {**os.environ, **server_env(data_dir, BASKETPAY_IDEMPOTENCY_LEASE_SECONDS=LEASE_SECONDS,
                                      BASKETPAY_PROCESSOR_TIMEOUT_MS="500"),
           "BASKETPAY_DATABASE_URL": database_url}
    output = subprocess.run(
        [sys.executable, "-m", "basketpay.cli.main", "sweep"], env=env, capture_output=True, check=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def crash_during_confirm(crashing_server: ServerProcess, merchant_key: str, key: str) -> str:
    headers = {"Authorization": f"Bearer {merchant_key}"}
    with httpx.Client(base_url=crashing_server.base_url, headers=headers, timeout=10) as crashing:
        intent = post(crashing, "/v1/payment_intents", {
            "amount": 7700, "currency": "usd", "capture_method": "manual", "payment_method": card(crashing),
        }).json()
        with pytest.raises(httpx.TransportError):
            post(crashing, f"/v1/payment_intents/{intent['id']}/confirm", {}, key=key)
    assert crashing_server.process is not None and crashing_server.process.wait(timeout=10) == 70
    return str(intent["id"])


def test_sweeper_resolves_a_crash_after_the_processor_charged(
    crashing_server: ServerProcess, client: httpx.Client, merchant: tuple[str, str], engine: Engine,
    database_url: str, data_dir: Path,
) -> None:
    intent_id = crash_during_confirm(crashing_server, merchant[1], "crash-key-1")
    assert charges_for(engine, intent_id) == 1
    assert client.get(f"/v1/payment_intents/{intent_id}").json()["status"] == "processing"
    time.sleep(float(LEASE_SECONDS) + 0.2)
    report = sweep(database_url, data_dir)
    assert report["resolved"] >= 1
    resolved = client.get(f"/v1/payment_intents/{intent_id}").json()
    assert (resolved["status"], resolved["amount_capturable"]) == ("requires_capture", 7700)
    replay = post(client, f"/v1/payment_intents/{intent_id}/confirm", {}, key="crash-key-1")
    assert replay.status_code == 200 and replay.json()["status"] == "requires_capture"
    assert charges_for(engine, intent_id) == 1
    with engine.connect() as connection:
        statuses = connection.scalars(
            select(payment_attempts.c.status).where(payment_attempts.c.payment_intent_id == intent_id)
        ).all()
    assert statuses == ["succeeded"]


def test_a_retry_with_the_same_key_resumes_without_charging_twice(
    crashing_server: ServerProcess, client: httpx.Client, merchant: tuple[str, str], engine: Engine,
) -> None:
    intent_id = crash_during_confirm(crashing_server, merchant[1], "crash-key-2")
    early = post(client, f"/v1/payment_intents/{intent_id}/confirm", {}, key="crash-key-2")
    assert early.status_code == 409  # the crashed request's lease has not run out yet
    time.sleep(float(LEASE_SECONDS) + 0.2)
    retried = post(client, f"/v1/payment_intents/{intent_id}/confirm", {}, key="crash-key-2")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "requires_capture"
    assert charges_for(engine, intent_id) == 1
