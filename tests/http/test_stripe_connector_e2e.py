"""The payment API through the Stripe connector, against the Stripe-compatible sandbox
started by `basketpay sim`: the same lifecycle as with the in-process sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.server import ServerProcess
from tests.conftest import server_env
from tests.helpers import card, post


@pytest.fixture(scope="module")
def stripe_server(database_url: str, data_dir: Path) -> Iterator[ServerProcess]:
    sandboxes = SandboxProcesses().start()
    env = server_env(
        data_dir, BASKETPAY_DEFAULT_CONNECTOR="stripe", BASKETPAY_STRIPE_API_BASE=sandboxes.urls["stripe"],
        BASKETPAY_STRIPE_SECRET_KEY="sk_test_e2e",
    )
    server = ServerProcess(database_url, env=env).start()
    yield server
    server.stop()
    sandboxes.stop()


@pytest.fixture()
def stripe_client(stripe_server: ServerProcess, merchant: tuple[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stripe_server.base_url, headers={"Authorization": f"Bearer {merchant[1]}"}, timeout=30) as http:
        yield http


def test_lifecycle_through_the_stripe_connector(stripe_client: httpx.Client) -> None:
    created = post(stripe_client, "/v1/payment_intents", {
        "amount": 10_000, "currency": "usd", "capture_method": "manual",
        "payment_method": card(stripe_client), "confirm": True})
    assert created.status_code == 200, created.text
    intent = created.json()
    assert (intent["connector"], intent["status"]) == ("stripe", "requires_capture")
    assert intent["processor_reference"].startswith("pi_")
    path = f"/v1/payment_intents/{intent['id']}"
    assert post(stripe_client, path + "/increment_authorization", {"amount": 12_000}).json()["amount_capturable"] == 12_000
    partial = post(stripe_client, path + "/capture", {"amount_to_capture": 5_000, "final_capture": False}).json()
    assert (partial["status"], partial["amount_received"]) == ("requires_capture", 5_000)
    final = post(stripe_client, path + "/capture", {"amount_to_capture": 4_000}).json()
    assert (final["status"], final["amount_received"], final["amount_capturable"]) == ("succeeded", 9_000, 0)
    refund = post(stripe_client, "/v1/refunds", {"payment_intent": intent["id"], "amount": 1_500})
    assert refund.status_code == 200 and refund.json()["status"] == "succeeded"


def test_declines_and_voids_through_the_stripe_connector(stripe_client: httpx.Client) -> None:
    declined = post(stripe_client, "/v1/payment_intents", {
        "amount": 1000, "currency": "usd", "payment_method": card(stripe_client, "4000000000009995"), "confirm": True})
    assert declined.status_code == 402
    assert declined.json()["error"]["decline_code"] == "insufficient_funds"
    authorized = post(stripe_client, "/v1/payment_intents", {
        "amount": 1000, "currency": "usd", "capture_method": "manual", "payment_method": card(stripe_client),
        "confirm": True}).json()
    canceled = post(stripe_client, f"/v1/payment_intents/{authorized['id']}/cancel", {})
    assert canceled.json()["status"] == "canceled"
