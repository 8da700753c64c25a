"""Outbound webhooks end to end: a receiver registered through the API gets the
merchant's events, signed per Standard Webhooks; failures are retried until a 2xx and
then stop; a replay resends the same webhook-id; a rotation signs with both secrets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from basketpay.server import free_port
from basketpay.webhooks.signing import verify
from tests.helpers import authorized, post

WAIT_SECONDS_MAX = 10.0


class Receiver:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.failures_left = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    failing = receiver.failures_left > 0
                    receiver.failures_left -= 1 if failing else 0
                    receiver.received.append({"headers": {k.lower(): v for k, v in self.headers.items()},
                                              "body": body, "status": 503 if failing else 204})
                self.send_response(503 if failing else 204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def wait_for(self, count: int, event_type: str | None = None) -> list[dict[str, Any]]:
        deadline = time.monotonic() + WAIT_SECONDS_MAX
        while time.monotonic() < deadline:
            with self.lock:
                found = [r for r in self.received if event_type is None or json.loads(r["body"])["type"] == event_type]
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"expected {count} deliveries, got {len(found)}")


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    thread.join()


def register(client: httpx.Client, url: str, events: list[str]) -> dict[str, Any]:
    response = post(client, "/v1/webhook_endpoints", {"url": url, "enabled_events": events})
    assert response.status_code == 200, response.text
    assert response.json()["secret"].startswith("whsec_")
    return response.json()  # type: ignore[no-any-return]


def verified(delivery: dict[str, Any], secret: str) -> bool:
    headers = delivery["headers"]
    return verify(secret, headers["webhook-id"], int(headers["webhook-timestamp"]), delivery["body"],
                  headers["webhook-signature"], int(time.time()))


def test_events_arrive_signed_and_failures_are_retried_until_a_2xx(client: httpx.Client, receiver: Receiver) -> None:
    endpoint = register(client, receiver.url, ["payment_intent.amount_capturable_updated"])
    receiver.failures_left = 2
    intent = authorized(client, 1500)
    attempts = receiver.wait_for(3, "payment_intent.amount_capturable_updated")
    time.sleep(0.5)  # nothing more comes after the 2xx
    assert len(receiver.wait_for(3)) == 3
    assert [a["status"] for a in attempts] == [503, 503, 204]
    assert len({a["headers"]["webhook-id"] for a in attempts}) == 1  # the same webhook-id on every retry
    assert all(verified(a, endpoint["secret"]) for a in attempts)
    body = json.loads(attempts[-1]["body"])
    assert body["data"]["id"] == intent["id"] and body["id"] == attempts[-1]["headers"]["webhook-id"]
    log = client.get(f"/v1/webhook_endpoints/{endpoint['id']}/deliveries").json()["data"]
    assert [(d["status"], d["attempts"]) for d in log] == [("succeeded", 3)]
    detail = client.get(f"/v1/webhook_deliveries/{log[0]['id']}").json()
    assert [a["status_code"] for a in detail["attempt_log"]] == [503, 503, 204]


def test_a_replay_resends_the_same_webhook_id(client: httpx.Client, receiver: Receiver) -> None:
    endpoint = register(client, receiver.url, ["*"])
    post(client, "/v1/payment_intents", {"amount": 500, "currency": "usd"})
    first = receiver.wait_for(1, "payment_intent.created")[0]
    delivery = client.get(f"/v1/webhook_endpoints/{endpoint['id']}/deliveries").json()["data"][0]
    assert post(client, f"/v1/webhook_deliveries/{delivery['id']}/replay").status_code == 200
    again = receiver.wait_for(2, "payment_intent.created")[1]
    assert again["headers"]["webhook-id"] == first["headers"]["webhook-id"] and again["body"] == first["body"]


def test_a_rotated_secret_signs_alongside_the_old_one_during_the_overlap(
    client: httpx.Client, receiver: Receiver
) -> None:
    endpoint = register(client, receiver.url, ["payment_intent.created"])
    rotated = post(client, f"/v1/webhook_endpoints/{endpoint['id']}/rotate_secret", {"overlap_seconds": 3600}).json()
    assert rotated["secret"] != endpoint["secret"]
    post(client, "/v1/payment_intents", {"amount": 500, "currency": "usd"})
    delivery = receiver.wait_for(1, "payment_intent.created")[0]
    assert len(delivery["headers"]["webhook-signature"].split(" ")) == 2
    assert verified(delivery, rotated["secret"]) and verified(delivery, endpoint["secret"])
    assert "secret" not in client.get(f"/v1/webhook_endpoints/{endpoint['id']}").json()  # shown only once


def test_a_disabled_endpoint_gets_nothing_and_bad_urls_are_refused(client: httpx.Client, receiver: Receiver) -> None:
    endpoint = register(client, receiver.url, ["*"])
    assert post(client, f"/v1/webhook_endpoints/{endpoint['id']}/disable").json()["status"] == "disabled"
    post(client, "/v1/payment_intents", {"amount": 500, "currency": "usd"})
    time.sleep(0.6)
    assert receiver.received == []
    bad = post(client, "/v1/webhook_endpoints", {"url": "ftp://example.com/x", "enabled_events": ["*"]})
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "url")
