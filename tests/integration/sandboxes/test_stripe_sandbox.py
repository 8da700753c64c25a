"""The official stripe SDK against the sandbox: payment intent lifecycles and refunds."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import stripe

from tests.integration.sandboxes.stripe_server import running_sandbox, sdk_client


@pytest.fixture(scope="module")
def client() -> Iterator[stripe.StripeClient]:
    with running_sandbox() as base_url:
        yield sdk_client(base_url)


def test_create_and_confirm_with_automatic_capture_succeeds(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        params={"amount": 1250, "currency": "usd", "metadata": {"order": "o_1"}, "payment_method_types": ["card"]}  # type: ignore[typeddict-unknown-key]
    )
    assert intent.status == "requires_payment_method"
    assert intent.metadata["order"] == "o_1"
    assert intent.livemode is False
    assert intent.last_response is not None
    assert intent.last_response.headers["request-id"].startswith("req_")
    confirmed = client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert confirmed.status == "succeeded"
    assert confirmed.amount_received == 1250
    assert confirmed.latest_charge is not None and str(confirmed.latest_charge).startswith("ch_")
    fetched = client.v1.payment_intents.retrieve(intent.id)
    assert fetched.status == "succeeded" and fetched.payment_method == confirmed.payment_method


def test_manual_capture_partial_then_final(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        params={"amount": 5000, "currency": "eur", "capture_method": "manual",
                "payment_method": "pm_card_mastercard", "confirm": True}
    )
    assert (intent.status, intent.amount_capturable) == ("requires_capture", 5000)
    partial = client.v1.payment_intents.capture(intent.id, params={"amount_to_capture": 1000, "final_capture": False})
    assert (partial.status, partial.amount_received, partial.amount_capturable) == ("requires_capture", 1000, 4000)
    final = client.v1.payment_intents.capture(intent.id, params={"amount_to_capture": 2500})
    assert (final.status, final.amount_received, final.amount_capturable) == ("succeeded", 3500, 0)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.capture(intent.id)
    assert raised.value.code == "payment_intent_unexpected_state"


def test_capture_more_than_capturable_is_rejected(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        params={"amount": 500, "currency": "usd", "capture_method": "manual", "payment_method": "pm_card_visa",
                "confirm": True}
    )
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.capture(intent.id, params={"amount_to_capture": 501})
    assert raised.value.param == "amount_to_capture"


def test_increment_authorization_then_capture(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        params={"amount": 2000, "currency": "usd", "capture_method": "manual", "payment_method": "pm_card_visa",
                "payment_method_options": {"card": {"request_incremental_authorization": "if_available"}},
                "confirm": True}
    )
    grown = client.v1.payment_intents.increment_authorization(intent.id, params={"amount": 2600})
    assert (grown.amount, grown.amount_capturable, grown.status) == (2600, 2600, "requires_capture")
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_intents.increment_authorization(intent.id, params={"amount": 2600})
    captured = client.v1.payment_intents.capture(intent.id)
    assert (captured.status, captured.amount_received) == ("succeeded", 2600)


def test_increment_without_requesting_it_is_rejected(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        params={"amount": 2000, "currency": "usd", "capture_method": "manual", "payment_method": "pm_card_visa",
                "confirm": True}
    )
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.increment_authorization(intent.id, params={"amount": 2600})
    assert raised.value.code == "incremental_authorization_not_supported"


def test_cancel_releases_the_hold(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        params={"amount": 900, "currency": "usd", "capture_method": "manual", "payment_method": "pm_card_amex",
                "confirm": True}
    )
    canceled = client.v1.payment_intents.cancel(intent.id, params={"cancellation_reason": "requested_by_customer"})
    assert (canceled.status, canceled.amount_capturable) == ("canceled", 0)
    assert canceled.cancellation_reason == "requested_by_customer"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.cancel(intent.id)
    assert raised.value.code == "payment_intent_unexpected_state"


def test_refund_partial_then_rest_then_over_refund(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        params={"amount": 3000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )
    first = client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1000, "reason": "duplicate"})
    assert (first.amount, first.status, first.payment_intent) == (1000, "succeeded", intent.id)
    assert client.v1.refunds.retrieve(first.id).amount == 1000
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 2001})
    assert raised.value.param == "amount"
    second = client.v1.refunds.create(params={"payment_intent": intent.id})
    assert second.amount == 2000
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 1})


def test_update_metadata_merges_and_unsets(client: stripe.StripeClient) -> None:
    intent = client.v1.payment_intents.create(
        params={"amount": 100, "currency": "usd", "metadata": {"a": "1", "b": "2"}}
    )
    updated = client.v1.payment_intents.update(intent.id, params={"metadata": {"b": "", "c": "3"}})
    assert updated.metadata.to_dict() == {"a": "1", "c": "3"}


def test_raw_card_data_keeps_only_last4_and_brand(client: stripe.StripeClient) -> None:
    card = {"number": "4000000000009995", "exp_month": 12, "exp_year": 2040, "cvc": "123"}
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.create(
            params={"amount": 700, "currency": "usd", "confirm": True,
                    "payment_method_data": {"type": "card", "card": card}}  # type: ignore[typeddict-unknown-key]
        )
    assert raised.value.error is not None and raised.value.error.decline_code == "insufficient_funds"
    ok = client.v1.payment_intents.create(
        params={"amount": 700, "currency": "usd", "confirm": True,
                "payment_method_data": {"type": "card", "card": {**card, "number": "4242424242424242"}}}  # type: ignore[typeddict-unknown-key]
    )
    assert ok.status == "succeeded"
    method = client.v1.payment_methods.retrieve(str(ok.payment_method))
    assert method.card is not None and (method.card.last4, method.card.brand) == ("4242", "visa")
    assert "4242424242424242" not in str(method)


def test_async_client_create_confirm_capture(client: stripe.StripeClient) -> None:
    async def flow() -> stripe.PaymentIntent:
        created = await client.v1.payment_intents.create_async(
            params={"amount": 4200, "currency": "gbp", "capture_method": "manual"}
        )
        await client.v1.payment_intents.confirm_async(created.id, params={"payment_method": "pm_card_visa"})
        return await client.v1.payment_intents.capture_async(created.id, params={"amount_to_capture": 4000})

    captured = asyncio.run(flow())
    assert (captured.status, captured.amount_received, captured.amount_capturable) == ("succeeded", 4000, 0)


def test_search_finds_an_intent_by_metadata(client: stripe.StripeClient) -> None:
    attempt = "att_search_1"
    created = client.v1.payment_intents.create(
        params={"amount": 100, "currency": "usd", "metadata": {"basketpay_attempt": attempt}}
    )
    found = client.v1.payment_intents.search(params={"query": f"metadata['basketpay_attempt']:'{attempt}'"})
    assert [intent.id for intent in found.data] == [created.id]
    both = client.v1.payment_intents.search(
        params={"query": f"metadata['basketpay_attempt']:'{attempt}' AND status:'succeeded'"}
    )
    assert both.data == []
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.search(params={"query": "amount>100"})
    assert raised.value.param == "query"
