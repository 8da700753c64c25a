"""Webhooks from the sandbox: Stripe events, signed so that the official SDK's
`stripe.Webhook.construct_event` accepts them."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from basketpay.sandboxes.stripe_api import StripeSandboxConfig
from tests.integration.sandboxes.stripe_server import running_sandbox, sdk_client

SECRET = "whsec_test_secret"
DELIVERY_TIMEOUT_SECONDS = 5.0
Received = queue.Queue[tuple[bytes, str]]


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    received: Received = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.put((body, self.headers["Stripe-Signature"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks", received
    server.shutdown()


def _next_event(received: Received) -> stripe.Event:
    body, signature = received.get(timeout=DELIVERY_TIMEOUT_SECONDS)
    event: stripe.Event = stripe.Webhook.construct_event(body.decode(), signature, SECRET)
    return event


def test_state_changes_send_signed_events(receiver: tuple[str, Received]) -> None:
    url, received = receiver
    with running_sandbox(StripeSandboxConfig(webhook_url=url, webhook_secret=SECRET)) as base_url:
        client = sdk_client(base_url)
        intent = client.v1.payment_intents.create(
            params={"amount": 800, "currency": "usd", "capture_method": "manual",
                    "payment_method": "pm_card_visa", "confirm": True})
        held = _next_event(received)
        assert held.type == "payment_intent.amount_capturable_updated"
        assert held.data.object["id"] == intent.id and held.data.object["amount_capturable"] == 800
        client.v1.payment_intents.capture(intent.id)
        assert _next_event(received).type == "payment_intent.succeeded"
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 300})
        refunded = _next_event(received)
        assert (refunded.type, refunded.data.object["amount_refunded"]) == ("charge.refunded", 300)
        with pytest.raises(stripe.CardError):
            client.v1.payment_intents.create(params={"amount": 800, "currency": "usd", "confirm": True,
                                                     "payment_method": "pm_card_chargeDeclined"})
        assert _next_event(received).type == "payment_intent.payment_failed"
        other = client.v1.payment_intents.create(params={"amount": 800, "currency": "usd"})
        client.v1.payment_intents.cancel(other.id)
        assert _next_event(received).type == "payment_intent.canceled"


def test_a_wrong_secret_fails_verification(receiver: tuple[str, Received]) -> None:
    url, received = receiver
    with running_sandbox(StripeSandboxConfig(webhook_url=url, webhook_secret=SECRET)) as base_url:
        sdk_client(base_url).v1.payment_intents.create(
            params={"amount": 100, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True})
        body, signature = received.get(timeout=DELIVERY_TIMEOUT_SECONDS)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.decode(), signature, "whsec_other")
    timestamp = int(signature.split(",")[0].removeprefix("t="))
    assert abs(timestamp - time.time()) < 60
