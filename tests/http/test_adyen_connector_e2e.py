"""The payment API through the Adyen connector against the Adyen-compatible sandbox:
authorisations answer at once; captures, refunds and voids answer 202 and complete
when Adyen's HMAC-signed notification arrives at /v1/processor_webhooks/adyen."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from basketpay.connectors.adyen.hmac import sign_notification
from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.server import ServerProcess
from tests.conftest import server_env
from tests.helpers import card, post

HMAC_KEY_HEX = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
WAIT_SECONDS_MAX = 10.0


@pytest.fixture(scope="module")
def server(database_url: str, data_dir: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(database_url, log_path=data_dir / "adyen-server.log")
    sandboxes = SandboxProcesses([
        "--adyen-webhook-url", process.base_url + "/v1/processor_webhooks/adyen", "--adyen-hmac-key-hex", HMAC_KEY_HEX,
    ]).start()
    process.env = server_env(
        data_dir, BASKETPAY_DEFAULT_CONNECTOR="adyen", BASKETPAY_ADYEN_API_BASE=sandboxes.urls["adyen"],
        BASKETPAY_ADYEN_API_KEY="test-key", BASKETPAY_ADYEN_HMAC_KEY_HEX=HMAC_KEY_HEX,
        BASKETPAY_SWEEPER_INTERVAL_SECONDS="3600",
    )
    process.start()
    yield process
    process.stop()
    sandboxes.stop()


@pytest.fixture()
def http(server: ServerProcess, merchant: tuple[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {merchant[1]}"}, timeout=30) as client:
        yield client


def settled(http: httpx.Client, path: str, field: str, value: Any) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS_MAX
    while True:
        found = http.get(path).json()
        if found[field] == value or time.monotonic() > deadline:
            return found  # type: ignore[no-any-return]
        time.sleep(0.05)


def test_lifecycle_through_adyen_notifications(http: httpx.Client) -> None:
    created = post(http, "/v1/payment_intents", {"amount": 8000, "currency": "usd", "capture_method": "manual",
                                                "payment_method": card(http), "confirm": True})
    assert created.status_code == 200, created.text
    intent = created.json()
    assert (intent["connector"], intent["status"]) == ("adyen", "requires_capture")
    path = f"/v1/payment_intents/{intent['id']}"
    capture = post(http, path + "/capture", {"amount_to_capture": 6000})
    assert capture.status_code == 202  # Adyen said "received"
    captured = settled(http, path, "status", "succeeded")
    assert (captured["status"], captured["amount_received"]) == ("succeeded", 6000)
    refund = post(http, "/v1/refunds", {"payment_intent": intent["id"], "amount": 1000})
    assert refund.status_code == 202 and refund.json()["status"] == "pending"
    done = settled(http, f"/v1/refunds/{refund.json()['id']}", "status", "succeeded")
    assert done["status"] == "succeeded"
    assert http.get(path).json()["amount_refunded"] == 1000


def test_declines_are_immediate_and_voids_complete_by_notification(http: httpx.Client) -> None:
    declined = post(http, "/v1/payment_intents", {"amount": 500, "currency": "usd",
                                                 "payment_method": card(http, "4000000000009995"), "confirm": True})
    assert declined.status_code == 402 and declined.json()["error"]["decline_code"] == "insufficient_funds"
    intent = post(http, "/v1/payment_intents", {"amount": 500, "currency": "usd", "capture_method": "manual",
                                               "payment_method": card(http), "confirm": True}).json()
    assert post(http, f"/v1/payment_intents/{intent['id']}/cancel", {}).status_code == 202
    assert settled(http, f"/v1/payment_intents/{intent['id']}", "status", "canceled")["status"] == "canceled"


def test_forged_notifications_are_rejected(server: ServerProcess) -> None:
    item = {"pspReference": "X", "eventCode": "CAPTURE", "success": "true", "merchantReference": "basketpay-att_x",
            "amount": {"value": 1, "currency": "USD"}, "additionalData": {"hmacSignature": "forged"}}
    url = server.base_url + "/v1/processor_webhooks/adyen"
    forged = httpx.post(url, json={"live": "false", "notificationItems": [{"NotificationRequestItem": item}]})
    assert forged.status_code == 400
    item["additionalData"]["hmacSignature"] = sign_notification(item, HMAC_KEY_HEX)
    genuine = httpx.post(url, json={"live": "false", "notificationItems": [{"NotificationRequestItem": item}]})
    assert (genuine.status_code, genuine.text) == (200, "[accepted]")  # accepted; it names no attempt of ours
