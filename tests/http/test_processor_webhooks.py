"""Stripe deliveries to /v1/processor_webhooks/stripe: verified, recorded once, and used
to resolve an attempt whose reply was lost, without waiting for the sweeper."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import stripe
from sqlalchemy import Engine, func, select

from basketpay.processor_events.tables import processor_events
from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.server import ServerProcess
from tests.conftest import server_env
from tests.helpers import card, post

SECRET = "whsec_test_basketpay"
WAIT_SECONDS_MAX = 10.0


@pytest.fixture(scope="module")
def stack(database_url: str, data_dir: Path) -> Iterator[tuple[ServerProcess, SandboxProcesses]]:
    server = ServerProcess(database_url)  # its port is known before it starts
    webhook_url = server.base_url + "/v1/processor_webhooks/stripe"
    sandboxes = SandboxProcesses(["--stripe-webhook-url", webhook_url, "--stripe-webhook-secret", SECRET]).start()
    server.env = server_env(
        data_dir, BASKETPAY_DEFAULT_CONNECTOR="stripe", BASKETPAY_STRIPE_API_BASE=sandboxes.urls["stripe"],
        BASKETPAY_STRIPE_SECRET_KEY="sk_test_hooks", BASKETPAY_STRIPE_WEBHOOK_SECRET=SECRET,
        BASKETPAY_SWEEPER_INTERVAL_SECONDS="3600",
    )
    server.start()
    yield server, sandboxes
    server.stop()
    sandboxes.stop()


def signed(payload: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    moment = int(time.time()) if timestamp is None else timestamp
    signature = stripe.WebhookSignature._compute_signature(f"{moment}.{payload.decode()}", secret)
    return {"Stripe-Signature": f"t={moment},v1={signature}", "Content-Type": "application/json"}


def event(event_id: str) -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": "payment_intent.succeeded",
                       "data": {"object": {"id": "pi_x", "object": "payment_intent", "metadata": {}}}}).encode()


def test_deliveries_are_verified_and_recorded_once(stack: tuple[ServerProcess, SandboxProcesses], engine: Engine) -> None:
    url = stack[0].base_url + "/v1/processor_webhooks/stripe"
    payload = event("evt_verify_1")
    assert httpx.post(url, content=payload, headers=signed(payload, "whsec_wrong")).status_code == 400
    stale = signed(payload, timestamp=int(time.time()) - 3600)
    assert httpx.post(url, content=payload, headers=stale).status_code == 400
    assert httpx.post(url, content=payload, headers={"Content-Type": "application/json"}).status_code == 400
    first = httpx.post(url, content=payload, headers=signed(payload))
    again = httpx.post(url, content=payload, headers=signed(payload))
    assert (first.status_code, first.json()["duplicate"]) == (200, False)
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).where(processor_events.c.event_id == "evt_verify_1"))
    assert count == 1


def test_an_event_resolves_a_lost_reply(stack: tuple[ServerProcess, SandboxProcesses], merchant: tuple[str, str]) -> None:
    server, sandboxes = stack
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {merchant[1]}"}, timeout=30) as http:
        payment_method = card(http)
        httpx.post(sandboxes.urls["stripe"] + "/__sandbox/faults", json={"reply_lost_rate": 1.0})
        try:
            lost = post(http, "/v1/payment_intents", {"amount": 4100, "currency": "usd", "capture_method": "manual",
                                                    "payment_method": payment_method, "confirm": True})
        finally:
            httpx.post(sandboxes.urls["stripe"] + "/__sandbox/faults", json={"reply_lost_rate": 0})
        assert lost.status_code == 202 and lost.json()["status"] == "processing"
        deadline = time.monotonic() + WAIT_SECONDS_MAX
        status = "processing"
        while status == "processing" and time.monotonic() < deadline:
            time.sleep(0.1)
            status = http.get(f"/v1/payment_intents/{lost.json()['id']}").json()["status"]
    assert status == "requires_capture"  # resolved by the webhook: the sweeper is idle for an hour
