"""Each injected fault (basketpay/sandboxes/faults.py), observed over HTTP in both
sandboxes: what a client sees, and what the processor's books say happened."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from basketpay.sandboxes.adyen_api import AdyenSandboxConfig
from basketpay.sandboxes.adyen_api import create_app as create_adyen_app
from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.sandboxes.stripe_api import StripeSandboxConfig
from basketpay.sandboxes.stripe_api import create_app as create_stripe_app
from tests.integration.sandboxes.stripe_server import running_sandbox

WAIT_SECONDS_MAX = 5.0
Delivery = tuple[float, dict[str, Any]]  # arrival (monotonic seconds), body


class Receiver:
    """Collects every webhook body it is sent, answering 200 at once."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.deliveries.append((time.monotonic(), body))  # list.append is atomic
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"[accepted]")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def wait_for(self, count: int) -> list[Delivery]:
        deadline = time.monotonic() + WAIT_SECONDS_MAX
        while len(self.deliveries) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.deliveries)


@dataclass
class Target:
    """One sandbox behind a common face: make an authorization, count them, name a delivery."""

    name: str
    base_url: str
    pay: Callable[[httpx.Client], httpx.Response]
    count: Callable[[httpx.Client], int]
    identity: Callable[[dict[str, Any]], tuple[str, str]]  # (delivery id, payment id)
    payment_id: Callable[[httpx.Response], str]


def _stripe_pay(http: httpx.Client) -> httpx.Response:
    return http.post("/v1/payment_intents", headers={"Authorization": "Bearer sk_test_faults"}, data={
        "amount": "1000", "currency": "usd", "capture_method": "manual", "payment_method": "pm_card_visa",
        "confirm": "true"})


def _adyen_pay(http: httpx.Client) -> httpx.Response:
    return http.post("/v71/payments", headers={"X-API-Key": "test-key"}, json={
        "amount": {"value": 1000, "currency": "EUR"}, "reference": f"order-{uuid.uuid4().hex[:8]}",
        "merchantAccount": "BasketpayECOM", "shopperInteraction": "Ecommerce",
        "paymentMethod": {"type": "scheme", "number": "4242424242424242", "expiryMonth": "03",
                          "expiryYear": "2030", "cvc": "737"}})


def _adyen_identity(body: dict[str, Any]) -> tuple[str, str]:
    item = body["notificationItems"][0]["NotificationRequestItem"]
    return f"{item['pspReference']}:{item['eventCode']}", item["pspReference"]


@contextmanager
def target(name: str, receiver: Receiver) -> Iterator[Target]:
    if name == "stripe":
        app = create_stripe_app(StripeSandboxConfig(webhook_url=receiver.url, webhook_secret="whsec_faults"))
        with running_sandbox(app=app) as base_url:
            yield Target(name, base_url, _stripe_pay,
                         lambda http: len(http.get("/__sandbox/payment_intents").json()),
                         lambda body: (body["id"], body["data"]["object"]["id"]), lambda r: r.json()["id"])
    else:
        with running_sandbox(app=create_adyen_app(AdyenSandboxConfig(webhook_url=receiver.url))) as base_url:
            yield Target(name, base_url, _adyen_pay, lambda http: len(http.get("/__sandbox/payments").json()),
                         _adyen_identity, lambda r: r.json()["pspReference"])


@pytest.fixture(params=["stripe", "adyen"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[tuple[Target, httpx.Client, Receiver]]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    with target(request.param, receiver) as found, httpx.Client(base_url=found.base_url, timeout=5) as http:
        yield found, http, receiver
    receiver.server.shutdown()


def set_faults(http: httpx.Client, **faults: Any) -> None:
    http.post("/__sandbox/faults", json=faults).raise_for_status()


Sandbox = tuple[Target, httpx.Client, Receiver]


def test_error_is_a_500_and_nothing_is_done(sandbox: Sandbox) -> None:
    found, http, _ = sandbox
    set_faults(http, error_rate=1.0)
    assert found.pay(http).status_code == 500
    assert found.count(http) == 0


def test_lost_reply_is_a_transport_error_but_the_payment_exists(sandbox: Sandbox) -> None:
    found, http, _ = sandbox
    set_faults(http, reply_lost_rate=1.0)
    with pytest.raises(httpx.TransportError):
        found.pay(http)
    assert found.count(http) == 1


def test_latency_delays_every_answer(sandbox: Sandbox) -> None:
    found, http, _ = sandbox
    set_faults(http, latency_ms=150)
    started = time.monotonic()
    assert found.pay(http).status_code == 200
    assert time.monotonic() - started >= 0.15


def test_outage_is_a_503_until_it_ends(sandbox: Sandbox) -> None:
    found, http, _ = sandbox
    set_faults(http, outage=True)
    assert found.pay(http).status_code == 503
    assert found.count(http) == 0
    set_faults(http, outage=False)
    assert found.pay(http).status_code == 200


def test_faults_are_read_back_and_unknown_ones_refused(sandbox: Sandbox) -> None:
    _, http, _ = sandbox
    set_faults(http, error_rate=0.25, webhook_reorder=True, seed=7)
    read = http.get("/__sandbox/faults").json()
    assert (read["error_rate"], read["webhook_reorder"], read["seed"]) == (0.25, True, 7)
    assert http.post("/__sandbox/faults", json={"meteor_rate": 1}).status_code == 400
    assert http.post("/__sandbox/faults", json={"webhook_duplicate_rate": 2}).status_code == 400


def test_duplicated_webhooks_arrive_twice_with_the_same_id(sandbox: Sandbox) -> None:
    found, http, receiver = sandbox
    set_faults(http, webhook_duplicate_rate=1.0)
    assert found.pay(http).status_code == 200
    deliveries = receiver.wait_for(2)
    time.sleep(0.1)  # nothing more than the pair comes
    identities = [found.identity(body) for _, body in receiver.deliveries]
    assert len(deliveries) == len(identities) == 2 and identities[0] == identities[1]


def test_reordered_webhooks_are_a_permutation(sandbox: Sandbox) -> None:
    found, http, receiver = sandbox
    set_faults(http, webhook_reorder=True, webhook_reorder_window=6, seed=3)
    created = [found.payment_id(found.pay(http)) for _ in range(6)]
    receiver.wait_for(1)
    time.sleep(0.3)  # REORDER_WAIT_MS_MAX: every window is released
    received = [found.identity(body)[1] for _, body in receiver.deliveries]
    per_payment = len(received) // len(created)
    assert sorted(received) == sorted(created * per_payment)
    assert received != sorted(received, key=created.index)  # not the order they were made in


def test_delayed_webhooks_are_held(sandbox: Sandbox) -> None:
    found, http, receiver = sandbox
    set_faults(http, webhook_delay_ms=300)
    started = time.monotonic()
    assert found.pay(http).status_code == 200
    time.sleep(0.2)
    assert receiver.deliveries == []
    arrived, _ = receiver.wait_for(1)[0]
    assert arrived - started >= 0.3


def test_sim_takes_adyen_faults_from_its_option() -> None:
    processes = SandboxProcesses(["--adyen-faults", json.dumps({"outage": True, "seed": 5})]).start()
    try:
        read = httpx.get(processes.urls["adyen"] + "/__sandbox/faults").json()
        assert (read["outage"], read["seed"]) == (True, 5)
        with httpx.Client(base_url=processes.urls["adyen"]) as http:
            assert _adyen_pay(http).status_code == 503
    finally:
        processes.stop()
