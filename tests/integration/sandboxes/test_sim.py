"""`basketpay sim` starts both sandboxes and says where they are."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import stripe

from basketpay.sandboxes.runner import SandboxProcesses


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[SandboxProcesses]:
    processes = SandboxProcesses().start()
    yield processes
    processes.stop()


def test_the_stripe_sandbox_answers_the_official_sdk(sandboxes: SandboxProcesses) -> None:
    client = stripe.StripeClient(
        "sk_test_sim", base_addresses={"api": sandboxes.urls["stripe"]},
        http_client=stripe.HTTPXClient(allow_sync_methods=True),
    )
    intent = client.v1.payment_intents.create(
        params={"amount": 1200, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    assert intent.status == "succeeded"


def test_the_adyen_sandbox_authorises(sandboxes: SandboxProcesses) -> None:
    body = {
        "amount": {"value": 1200, "currency": "USD"}, "reference": "order-1", "merchantAccount": "BasketpayTest",
        "paymentMethod": {"type": "scheme", "number": "4242424242424242", "expiryMonth": "12",
                          "expiryYear": "2031", "cvc": "123", "holderName": "Test"},
    }
    response = httpx.post(sandboxes.urls["adyen"] + "/v71/payments", json=body, headers={"X-API-Key": "test"})
    assert response.status_code == 200, response.text
    assert response.json()["resultCode"] == "Authorised"


def test_ports_can_be_chosen() -> None:
    from basketpay.server import free_port

    stripe_port, adyen_port, ebt_port = free_port(), free_port(), free_port()
    processes = SandboxProcesses(["--stripe-port", str(stripe_port), "--adyen-port", str(adyen_port),
                                  "--ebt-port", str(ebt_port)]).start()
    try:
        assert processes.urls == {"stripe": f"http://127.0.0.1:{stripe_port}", "adyen": f"http://127.0.0.1:{adyen_port}",
                                  "ebt": f"http://127.0.0.1:{ebt_port}"}
    finally:
        processes.stop()


def test_faults_from_the_command_line_and_the_admin_endpoint() -> None:
    processes = SandboxProcesses(["--stripe-faults", '{"error_rate": 1.0}']).start()
    try:
        base = processes.urls["stripe"]
        headers = {"Authorization": "Bearer sk_test_faults"}
        failing = httpx.post(base + "/v1/payment_intents", data={"amount": 100, "currency": "usd"}, headers=headers)
        assert failing.status_code == 500 and failing.json()["error"]["type"] == "api_error"
        assert httpx.post(base + "/__sandbox/faults", json={"error_rate": 0}).json()["error_rate"] == 0
        working = httpx.post(base + "/v1/payment_intents", data={"amount": 100, "currency": "usd"}, headers=headers)
        assert working.status_code == 200
        refused = httpx.post(base + "/__sandbox/faults", json={"error_rate": 2})
        assert refused.status_code == 400
    finally:
        processes.stop()


def test_behaviour_from_the_command_line() -> None:
    processes = SandboxProcesses(["--stripe-behaviour", '{"approval_rate": 0.0, "seed": 3}']).start()
    try:
        base, headers = processes.urls["stripe"], {"Authorization": "Bearer sk_test_behaviour"}
        assert httpx.get(base + "/__sandbox/behaviour").json()["approval_rate"] == 0.0
        card = {"payment_method_data[type]": "card", "payment_method_data[card][number]": "4111111111111111",
                "payment_method_data[card][exp_month]": "12", "payment_method_data[card][exp_year]": "2031"}
        declined = httpx.post(base + "/v1/payment_intents", headers=headers,
                              data={"amount": 100, "currency": "usd", "confirm": "true", **card})
        assert declined.status_code == 402
        adyen = httpx.get(processes.urls["adyen"] + "/__sandbox/behaviour").json()
        assert adyen["approval_rate"] == 1.0
    finally:
        processes.stop()
