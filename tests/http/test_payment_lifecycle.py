"""The payment lifecycle through the HTTP API, against a real server and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import DECLINE_CARDS, VISA, authorized, card, post


def test_automatic_capture_charges_in_one_step(client: httpx.Client) -> None:
    response = post(client, "/v1/payment_intents", {
        "amount": 2599, "currency": "usd", "payment_method": card(client), "confirm": True,
    })
    assert response.status_code == 200
    intent = response.json()
    assert intent["status"] == "succeeded"
    assert intent["amount_received"] == 2599
    assert intent["amount_capturable"] == 0


def test_manual_capture_in_parts_then_final_releases_the_rest(client: httpx.Client) -> None:
    intent = authorized(client, 10_000)
    path = f"/v1/payment_intents/{intent['id']}/capture"
    first = post(client, path, {"amount_to_capture": 3000, "final_capture": False}).json()
    assert (first["status"], first["amount_received"], first["amount_capturable"]) == ("requires_capture", 3000, 7000)
    second = post(client, path, {"amount_to_capture": 2000}).json()
    assert (second["status"], second["amount_received"], second["amount_capturable"]) == ("succeeded", 5000, 0)


def test_incremental_authorization_raises_what_can_be_captured(client: httpx.Client) -> None:
    intent = authorized(client, 5000)
    raised = post(client, f"/v1/payment_intents/{intent['id']}/increment_authorization", {"amount": 6500})
    assert raised.status_code == 200
    assert raised.json()["amount_capturable"] == 6500
    lower = post(client, f"/v1/payment_intents/{intent['id']}/increment_authorization", {"amount": 6000})
    assert lower.status_code == 400
    assert lower.json()["error"]["param"] == "amount"


def test_cancel_voids_the_authorization(client: httpx.Client) -> None:
    intent = authorized(client, 5000)
    canceled = post(client, f"/v1/payment_intents/{intent['id']}/cancel", {"cancellation_reason": "abandoned"})
    assert canceled.status_code == 200
    assert canceled.json()["status"] == "canceled"
    capture = post(client, f"/v1/payment_intents/{intent['id']}/capture", {})
    assert capture.status_code == 409
    assert capture.json()["error"]["code"] == "payment_intent_unexpected_state"


def test_refunds_never_exceed_what_was_received(client: httpx.Client) -> None:
    intent = authorized(client, 5000)
    post(client, f"/v1/payment_intents/{intent['id']}/capture", {"amount_to_capture": 4000})
    first = post(client, "/v1/refunds", {"payment_intent": intent["id"], "amount": 1500})
    assert first.status_code == 200 and first.json()["status"] == "succeeded"
    too_much = post(client, "/v1/refunds", {"payment_intent": intent["id"], "amount": 2501})
    assert too_much.status_code == 400
    assert too_much.json()["error"]["param"] == "amount"
    rest = post(client, "/v1/refunds", {"payment_intent": intent["id"]})
    assert rest.json()["amount"] == 2500
    final = client.get(f"/v1/payment_intents/{intent['id']}").json()
    assert final["amount_refunded"] == 4000
    refunds = client.get("/v1/refunds", params={"payment_intent": intent["id"]}).json()
    assert [r["amount"] for r in refunds["data"]] == [2500, 1500]
    assert client.get(f"/v1/refunds/{first.json()['id']}").json()["amount"] == 1500


@pytest.mark.parametrize(("number", "code", "decline_code"), DECLINE_CARDS)
def test_test_cards_decline_with_their_codes(client: httpx.Client, number: str, code: str, decline_code: str) -> None:
    response = post(client, "/v1/payment_intents", {
        "amount": 1000, "currency": "usd", "payment_method": card(client, number), "confirm": True,
    })
    assert response.status_code == 402
    error = response.json()["error"]
    assert (error["type"], error["code"], error["decline_code"]) == ("card_error", code, decline_code)
    intent = error["payment_intent"]
    assert intent["status"] == "requires_payment_method"
    assert intent["last_payment_error"]["decline_code"] == decline_code
    # The customer can try again with another card.
    retry = post(client, f"/v1/payment_intents/{intent['id']}/confirm", {"payment_method": card(client, VISA)})
    assert retry.status_code == 200 and retry.json()["status"] == "succeeded"


def test_currency_exponents_are_respected(client: httpx.Client) -> None:
    for currency, amount in (("jpy", 1500), ("kwd", 12_345), ("usd", 1)):
        intent = authorized(client, amount, currency)
        assert (intent["currency"], intent["amount"]) == (currency, amount)


def test_another_merchants_objects_are_not_found(client: httpx.Client, server, engine) -> None:  # type: ignore[no-untyped-def]
    from basketpay.merchants.service import create_merchant

    intent = authorized(client, 1000)
    with engine.begin() as connection:
        other = create_merchant(connection, "other")
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {other.secret_key}"}) as stranger:
        assert stranger.get(f"/v1/payment_intents/{intent['id']}").status_code == 404
        capture = post(stranger, f"/v1/payment_intents/{intent['id']}/capture", {})
        assert capture.status_code == 404
        assert stranger.get("/v1/payment_intents").json()["data"] == []


def test_list_pagination_newest_first(client: httpx.Client) -> None:
    ids = [post(client, "/v1/payment_intents", {"amount": 100 + i, "currency": "usd"}).json()["id"] for i in range(5)]
    first = client.get("/v1/payment_intents", params={"limit": 2}).json()
    assert [i["id"] for i in first["data"]] == [ids[4], ids[3]] and first["has_more"]
    second = client.get("/v1/payment_intents", params={"limit": 2, "starting_after": ids[3]}).json()
    assert [i["id"] for i in second["data"]] == [ids[2], ids[1]] and second["has_more"]
    last = client.get("/v1/payment_intents", params={"limit": 2, "starting_after": ids[1]}).json()
    assert [i["id"] for i in last["data"]] == [ids[0]] and not last["has_more"]
    back = client.get("/v1/payment_intents", params={"limit": 2, "ending_before": ids[0]}).json()
    assert [i["id"] for i in back["data"]] == [ids[2], ids[1]] and back["has_more"]


def test_authorization_expiry_depends_on_brand_and_initiator(client: httpx.Client) -> None:
    def expiry_days(number: str, off_session: bool) -> float:
        intent = post(client, "/v1/payment_intents", {
            "amount": 1000, "currency": "usd", "capture_method": "manual", "off_session": off_session,
            "payment_method": card(client, number, cvc="1234" if number.startswith("37") else "123"),
            "confirm": True,
        }).json()
        return (intent["authorization_expires_at"] - intent["created"]) / 86_400

    assert round(expiry_days(VISA, False)) == 7
    assert round(expiry_days(VISA, True)) == 5
    assert round(expiry_days("5555555555554444", True)) == 7
    assert round(expiry_days("378282246310005", False)) == 7
