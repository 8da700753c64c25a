"""The payments core posts every money movement: the books after a payment's whole
lifecycle, read back through the ledger API."""

from __future__ import annotations

from typing import Any

import httpx

from basketpay.ledger import chart
from tests.helpers import authorized, post


def balance(client: httpx.Client, merchant_id: str, code: str, currency: str = "USD") -> dict[str, Any]:
    account = chart.account_id(merchant_id, code, currency)
    response = client.get(f"/v1/ledger/accounts/{account}/balance")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def kinds(client: httpx.Client, intent_id: str) -> list[str]:
    listed = client.get("/v1/ledger/entries", params={"object_id": intent_id, "limit": 100}).json()
    return [entry["kind"] for entry in reversed(listed["data"])]


def test_authorize_increment_capture_refund_post_balanced_entries(
    client: httpx.Client, merchant: tuple[str, str]
) -> None:
    intent = authorized(client, 5000)
    holds = balance(client, merchant[0], chart.CARD_AUTHORIZATION_HOLDS)
    assert (holds["posted"], holds["pending_incoming"], holds["pending"]) == (0, 5000, 5000)
    assert post(client, f"/v1/payment_intents/{intent['id']}/increment_authorization", {"amount": 6000}).status_code == 200
    assert post(client, f"/v1/payment_intents/{intent['id']}/capture",
                {"amount_to_capture": 2000, "final_capture": False}).status_code == 200
    assert post(client, f"/v1/payment_intents/{intent['id']}/capture",
                {"amount_to_capture": 1000, "final_capture": True}).status_code == 200
    assert post(client, "/v1/refunds", {"payment_intent": intent["id"], "amount": 500}).status_code == 200

    assert balance(client, merchant[0], chart.CARD_AUTHORIZATION_HOLDS)["pending"] == 0  # 3,000 released
    clearing = balance(client, merchant[0], chart.processor_clearing("sandbox"))
    assert (clearing["posted"], clearing["available"]) == (2500, 2500)  # captured 3,000, refunded 500
    receivables = balance(client, merchant[0], chart.CUSTOMER_RECEIVABLES)
    assert (receivables["posted"], receivables["pending"]) == (-2500, -2500)  # collected, to be allocated
    assert kinds(client, intent["id"]) == [
        "payment.authorization", "payment.authorization_increment", "payment.capture", "payment.capture",
        "payment.refund",
    ]
    hold = client.get(f"/v1/ledger/holds/lh_{intent['id'].removeprefix('pi_')}").json()
    assert (hold["status"], hold["amount"], hold["posted_amount"], hold["released_amount"]) == ("posted", 6000, 3000, 3000)


def test_a_void_releases_the_hold_and_a_sale_posts_at_once(client: httpx.Client, merchant: tuple[str, str]) -> None:
    voided = authorized(client, 4000)
    assert post(client, f"/v1/payment_intents/{voided['id']}/cancel").status_code == 200
    assert kinds(client, voided["id"]) == ["payment.authorization", "payment.void"]
    assert balance(client, merchant[0], chart.CARD_AUTHORIZATION_HOLDS)["pending"] == 0

    from tests.helpers import card

    sale = post(client, "/v1/payment_intents", {"amount": 1234, "currency": "usd", "payment_method": card(client),
                                                "confirm": True}).json()
    assert sale["status"] == "succeeded"
    assert kinds(client, sale["id"]) == ["payment.sale"]
    assert balance(client, merchant[0], chart.processor_clearing("sandbox"))["posted"] == 1234


def test_a_decline_posts_nothing(client: httpx.Client, merchant: tuple[str, str]) -> None:
    from tests.helpers import card

    declined = post(client, "/v1/payment_intents", {"amount": 900, "currency": "usd", "capture_method": "manual",
                                                    "payment_method": card(client, "4000000000000002"),
                                                    "confirm": True})
    assert declined.status_code == 402
    assert kinds(client, declined.json()["error"]["payment_intent"]["id"]) == []


def test_each_currency_has_its_own_books(client: httpx.Client, merchant: tuple[str, str]) -> None:
    intent = authorized(client, 300, currency="jpy")
    assert post(client, f"/v1/payment_intents/{intent['id']}/capture", {}).status_code == 200
    assert balance(client, merchant[0], chart.processor_clearing("sandbox"), "JPY")["posted"] == 300
    usd = chart.account_id(merchant[0], chart.processor_clearing("sandbox"), "USD")
    assert client.get(f"/v1/ledger/accounts/{usd}/balance").status_code == 404  # no USD books until a USD payment
