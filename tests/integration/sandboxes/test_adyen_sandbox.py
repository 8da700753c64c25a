"""The Adyen sandbox over real HTTP: uvicorn on a free port, driven with httpx, with a
small webhook receiver that collects notifications and checks their HMAC signatures."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import uvicorn

from basketpay.connectors.sandbox.cards import DECLINES
from basketpay.sandboxes.adyen_api import AdyenSandboxConfig, create_app, verify_notification_hmac
from basketpay.sandboxes.adyen_api.results import REFUSALS
from basketpay.server import free_port

HMAC_KEY_HEX = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00"
MERCHANT = "BasketpayECOM"
WAIT_SECONDS_MAX = 5.0
HEADERS = {"X-API-Key": "test-key"}


class Receiver:
    """A webhook endpoint that answers "[accepted]" as Adyen expects, after failing the
    first `failures_left` requests with HTTP 500 so retries get exercised."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.failures_left = 0
        self.delay_seconds = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(receiver.delay_seconds)
                with receiver.lock:
                    failing = receiver.failures_left > 0
                    receiver.failures_left -= 1 if failing else 0
                    if not failing:
                        receiver.items += [entry["NotificationRequestItem"] for entry in body["notificationItems"]]
                self.send_response(500 if failing else 200)
                self.end_headers()
                self.wfile.write(b"[accepted]")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/adyen/webhook"

    def wait_for(self, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_SECONDS_MAX
        while time.monotonic() < deadline:
            with self.lock:
                found = [item for item in self.items if match(item)]
            if found:
                return found[0]
            time.sleep(0.01)
        raise AssertionError("notification not delivered in time")

    def event(self, event_code: str, psp_reference: str) -> dict[str, Any]:
        item = self.wait_for(lambda i: i["eventCode"] == event_code and i["pspReference"] == psp_reference)
        assert verify_notification_hmac(item, HMAC_KEY_HEX)
        return item


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    thread.join()


@contextmanager
def running_sandbox(config: AdyenSandboxConfig) -> Iterator[httpx.Client]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_SECONDS_MAX
    while not server.started:
        assert time.monotonic() < deadline, "sandbox did not start"
        time.sleep(0.01)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=HEADERS, timeout=5.0) as http:
        yield http
    server.should_exit = True
    thread.join()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def client(receiver: Receiver) -> Iterator[httpx.Client]:
    config = AdyenSandboxConfig(webhook_url=receiver.url, hmac_key_hex=HMAC_KEY_HEX, notification_backoff_ms=10)
    with running_sandbox(config) as http:
        yield http


def payment_body(number: str = "4242424242424242", value: int = 1000, **extra: Any) -> dict[str, Any]:
    return {
        "amount": {"value": value, "currency": "EUR"},
        "reference": f"order-{uuid.uuid4().hex[:8]}",
        "merchantAccount": MERCHANT,
        "paymentMethod": {
            "type": "scheme", "number": number, "expiryMonth": "03", "expiryYear": "2030", "cvc": "737",
            "holderName": "Ada Lovelace",
        },
        "shopperInteraction": "Ecommerce",
        **extra,
    }


def authorise(client: httpx.Client, **extra: Any) -> str:
    additional = {"manualCapture": "true", **extra.pop("additionalData", {})}
    response = client.post("/v71/payments", json=payment_body(additionalData=additional, **extra))
    assert response.status_code == 200, response.text
    assert response.json()["resultCode"] == "Authorised"
    return str(response.json()["pspReference"])


def modify(client: httpx.Client, psp: str, kind: str, value: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"merchantAccount": MERCHANT, "reference": f"{kind}-1"}
    if value is not None:
        body["amount"] = {"value": value, "currency": "EUR"}
    response = client.post(f"/v71/payments/{psp}/{kind}", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "received"
    assert response.json()["paymentPspReference"] == psp
    return dict(response.json())


def state(client: httpx.Client, psp: str) -> dict[str, Any]:
    return dict(client.get(f"/__sandbox/payments/{psp}").json())


# Vectors from Adyen's own API libraries (adyen-ruby-api-library spec/utils/hmac_validator_spec.rb,
# adyen-php-api-library tests/Adyen/Util/HmacSignatureTest.php).
KNOWN_ITEM = {
    "pspReference": "7914073381342284", "merchantAccountCode": "TestMerchant",
    "merchantReference": "TestPayment-1407325143704", "amount": {"value": 1130, "currency": "EUR"},
    "eventCode": "AUTHORISATION", "success": "true",
}


@pytest.mark.parametrize(
    ("key_hex", "signature"),
    [
        ("44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056",
         "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="),
        ("DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00",
         "Ny9gS2veKo5E4w8/OL6xz1/wvT/hYkAXy1xNc/QvO4I="),
    ],
)
def test_hmac_matches_adyen_library_vectors(key_hex: str, signature: str) -> None:
    item = {**KNOWN_ITEM, "additionalData": {"hmacSignature": signature}}
    assert verify_notification_hmac(item, key_hex)
    assert not verify_notification_hmac({**item, "success": "false"}, key_hex)
    assert not verify_notification_hmac(KNOWN_ITEM, key_hex)  # unsigned


def test_requests_without_api_key_are_unauthorised(client: httpx.Client) -> None:
    response = client.post("/v71/payments", json=payment_body(), headers={"X-API-Key": ""})
    assert response.status_code == 401
    assert response.json() == {
        "status": 401, "errorCode": "000", "message": "HTTP Status Response - Unauthorized", "errorType": "security",
    }


@pytest.mark.parametrize(
    ("body", "error_code"),
    [
        ({**payment_body(), "amount": {"value": "10", "currency": "EUR"}}, "137"),
        ({**payment_body(), "amount": {"value": 10, "currency": "XXX"}}, "138"),
        (payment_body(number="4242424242424241"), "101"),
        ({k: v for k, v in payment_body().items() if k != "merchantAccount"}, "901"),
        ({k: v for k, v in payment_body().items() if k != "reference"}, "130"),
    ],
)
def test_invalid_payment_requests_are_rejected(client: httpx.Client, body: dict[str, Any], error_code: str) -> None:
    response = client.post("/v71/payments", json=body)
    assert response.status_code == 422
    assert response.json()["errorCode"] == error_code
    assert response.json()["errorType"] == "validation"


def test_malformed_json_is_rejected(client: httpx.Client) -> None:
    response = client.post("/v71/payments", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errorCode"] == "702"


def test_manual_capture_then_capture_is_reported_by_webhook(client: httpx.Client, receiver: Receiver) -> None:
    psp = authorise(client)
    authorisation = receiver.event("AUTHORISATION", psp)
    assert authorisation["success"] == "true"
    assert authorisation["amount"] == {"value": 1000, "currency": "EUR"}
    assert state(client, psp)["capturedValue"] == 0
    capture = modify(client, psp, "captures", 1000)
    item = receiver.event("CAPTURE", capture["pspReference"])
    assert (item["success"], item["originalReference"]) == ("true", psp)
    assert state(client, psp)["capturedValue"] == 1000


def test_partial_captures_cannot_exceed_the_authorised_amount(client: httpx.Client, receiver: Receiver) -> None:
    psp = authorise(client)
    first = modify(client, psp, "captures", 600)
    assert receiver.event("CAPTURE", first["pspReference"])["success"] == "true"
    second = modify(client, psp, "captures", 500)
    refused = receiver.event("CAPTURE", second["pspReference"])
    assert refused["success"] == "false"
    assert "exceeds" in refused["reason"]
    assert state(client, psp)["capturedValue"] == 600


def test_cancel_reports_cancellation_and_blocks_capture(client: httpx.Client, receiver: Receiver) -> None:
    psp = authorise(client)
    cancel = modify(client, psp, "cancels")
    item = receiver.event("CANCELLATION", cancel["pspReference"])
    assert item["success"] == "true"
    assert item["amount"]["value"] == 1000
    capture = modify(client, psp, "captures", 100)
    assert receiver.event("CAPTURE", capture["pspReference"])["success"] == "false"


def test_refunds_are_bounded_by_the_captured_amount(client: httpx.Client, receiver: Receiver) -> None:
    psp = authorise(client, additionalData={"manualCapture": "false"})  # captured at once
    assert state(client, psp)["capturedValue"] == 1000
    refund = modify(client, psp, "refunds", 700)
    assert receiver.event("REFUND", refund["pspReference"])["success"] == "true"
    too_much = modify(client, psp, "refunds", 400)
    item = receiver.event("REFUND", too_much["pspReference"])
    assert item["success"] == "false"
    assert item["reason"] == "Refund amount exceeds the captured amount not yet refunded"
    assert state(client, psp)["refundedValue"] == 700


def test_amount_update_adjusts_a_preauthorisation(client: httpx.Client, receiver: Receiver) -> None:
    psp = authorise(client, additionalData={"authorisationType": "PreAuth"})
    update = modify(client, psp, "amountUpdates", 1500)
    assert receiver.event("AUTHORISATION_ADJUSTMENT", update["pspReference"])["success"] == "true"
    assert state(client, psp)["authorisedValue"] == 1500
    capture = modify(client, psp, "captures", 1500)
    assert receiver.event("CAPTURE", capture["pspReference"])["success"] == "true"

    plain = authorise(client)
    refused = modify(client, plain, "amountUpdates", 1500)
    item = receiver.event("AUTHORISATION_ADJUSTMENT", refused["pspReference"])
    assert item["success"] == "false"
    assert "PreAuth" in item["reason"]


@pytest.mark.parametrize("number", sorted(DECLINES))
def test_test_cards_are_refused_with_adyen_reasons(client: httpx.Client, receiver: Receiver, number: str) -> None:
    expected = REFUSALS[DECLINES[number].decline_code]
    response = client.post("/v71/payments", json=payment_body(number=number))
    assert response.status_code == 200
    body = response.json()
    assert (body["resultCode"], body["refusalReason"], body["refusalReasonCode"]) == (
        expected.result_code, expected.refusal_reason, expected.refusal_reason_code,
    )
    assert number not in response.text  # the full card number is never echoed
    item = receiver.event("AUTHORISATION", body["pspReference"])
    assert (item["success"], item["reason"]) == ("false", expected.refusal_reason)


def test_mastercard_and_past_expiry(client: httpx.Client) -> None:
    response = client.post("/v71/payments", json=payment_body(number="5555555555554444"))
    assert response.json()["resultCode"] == "Authorised"
    expired = payment_body()
    expired["paymentMethod"]["expiryYear"] = "2020"
    assert client.post("/v71/payments", json=expired).json()["refusalReason"] == "Expired Card"


def test_idempotency_key_replays_and_rejects_a_different_body(client: httpx.Client) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = payment_body()
    first = client.post("/v71/payments", json=body, headers=key)
    again = client.post("/v71/payments", json=body, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotency-Key"] == key["Idempotency-Key"]
    different = client.post("/v71/payments", json={**body, "amount": {"value": 1, "currency": "EUR"}}, headers=key)
    assert different.status_code == 422
    assert different.json()["errorCode"] == "704"


def test_idempotent_modification_is_applied_once(client: httpx.Client) -> None:
    psp = authorise(client)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"merchantAccount": MERCHANT, "amount": {"value": 300, "currency": "EUR"}}
    first = client.post(f"/v71/payments/{psp}/captures", json=body, headers=key)
    again = client.post(f"/v71/payments/{psp}/captures", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json()["pspReference"] == first.json()["pspReference"]
    assert state(client, psp)["capturedValue"] == 300


def test_modifying_an_unknown_payment_is_rejected(client: httpx.Client) -> None:
    response = client.post("/v71/payments/ABCDEFGHIJKLMNOP/captures",
                           json={"merchantAccount": MERCHANT, "amount": {"value": 1, "currency": "EUR"}})
    assert response.status_code == 422
    assert response.json()["errorCode"] == "167"


def test_webhook_delivery_is_retried_after_failures(client: httpx.Client, receiver: Receiver) -> None:
    with receiver.lock:
        receiver.failures_left = 2
    psp = authorise(client)
    assert receiver.event("AUTHORISATION", psp)["success"] == "true"


def test_a_slow_receiver_and_a_notification_delay_never_block_the_api() -> None:
    with running_receiver() as receiver:
        receiver.delay_seconds = 0.5
        config = AdyenSandboxConfig(webhook_url=receiver.url, hmac_key_hex=HMAC_KEY_HEX, notification_delay_ms=200)
        with running_sandbox(config) as client:
            started = time.monotonic()
            references = [authorise(client) for _ in range(3)]
            assert time.monotonic() - started < 0.4  # answered long before any webhook is delivered
            with receiver.lock:
                assert receiver.items == []
            for psp in references:
                assert receiver.event("AUTHORISATION", psp)["success"] == "true"


def technical_cancel(client: httpx.Client, payment_reference: str) -> dict[str, Any]:
    body = {"merchantAccount": MERCHANT, "paymentReference": payment_reference, "reference": f"tc-{payment_reference}"}
    response = client.post("/v71/cancels", json=body)
    assert response.status_code == 201, response.text
    assert (response.json()["status"], response.json()["paymentReference"]) == ("received", payment_reference)
    return dict(response.json())


def test_technical_cancel_cancels_a_payment_by_its_reference(client: httpx.Client, receiver: Receiver) -> None:
    body = payment_body(additionalData={"manualCapture": "true"})
    psp = client.post("/v71/payments", json=body).json()["pspReference"]
    cancel = technical_cancel(client, body["reference"])
    item = receiver.event("TECHNICAL_CANCEL", cancel["pspReference"])
    assert (item["success"], item["originalReference"]) == ("true", psp)
    assert state(client, psp)["cancelled"] is True


def test_technical_cancel_refunds_a_captured_payment(client: httpx.Client, receiver: Receiver) -> None:
    body = payment_body(additionalData={"manualCapture": "false"})
    psp = client.post("/v71/payments", json=body).json()["pspReference"]
    technical_cancel(client, body["reference"])
    assert state(client, psp)["refundedValue"] == 1000


def test_technical_cancel_catches_a_payment_that_arrives_later(client: httpx.Client, receiver: Receiver) -> None:
    body = payment_body(additionalData={"manualCapture": "true"})
    cancel = technical_cancel(client, body["reference"])
    assert "originalReference" not in receiver.event("TECHNICAL_CANCEL", cancel["pspReference"])
    late = client.post("/v71/payments", json=body).json()
    assert late["resultCode"] == "Authorised"
    assert state(client, late["pspReference"])["cancelled"] is True  # it never holds the shopper's money


def test_technical_cancel_needs_a_payment_reference(client: httpx.Client) -> None:
    response = client.post("/v71/cancels", json={"merchantAccount": MERCHANT})
    assert response.status_code == 422
    assert "paymentReference" in response.json()["message"]
