"""The sandbox's error shapes, checked by the exceptions the official SDK raises from
them: declines (402), idempotency, authentication, unknown ids, bad parameters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
import stripe

from basketpay.connectors.sandbox.cards import DECLINES
from basketpay.sandboxes.stripe_api import create_app
from basketpay.sandboxes.stripe_api.cards import TEST_PAYMENT_METHODS
from tests.integration.sandboxes.stripe_server import raw_post, running_sandbox, sdk_client

DECLINING_TEST_IDS = [test_id for test_id, number in TEST_PAYMENT_METHODS.items() if number in DECLINES]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_sandbox() as url:
        yield url


@pytest.fixture
def client(base_url: str) -> stripe.StripeClient:
    return sdk_client(base_url)


def test_every_declining_test_card_is_mapped() -> None:
    assert len(DECLINING_TEST_IDS) == len(DECLINES) == 7


@pytest.mark.parametrize("test_id", DECLINING_TEST_IDS)
def test_decline_raises_card_error_with_codes(client: stripe.StripeClient, test_id: str) -> None:
    expected = DECLINES[TEST_PAYMENT_METHODS[test_id]]
    intent = client.v1.payment_intents.create(params={"amount": 1000, "currency": "usd"})
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_intents.confirm(intent.id, params={"payment_method": test_id})
    error = raised.value
    assert error.http_status == 402
    assert error.code == expected.error_code
    assert error.error is not None and error.error.decline_code == expected.decline_code
    assert error.error.payment_intent is not None
    assert error.error.payment_intent.id == intent.id
    assert error.error.payment_intent.status == "requires_payment_method"
    after = client.v1.payment_intents.retrieve(intent.id)
    assert after.last_payment_error is not None and after.last_payment_error.code == expected.error_code
    # a declined intent can be retried with another card
    retried = client.v1.payment_intents.confirm(intent.id, params={"payment_method": "pm_card_visa"})
    assert retried.status == "succeeded" and retried.last_payment_error is None


def test_idempotent_replay_returns_the_first_answer(client: stripe.StripeClient) -> None:
    key = f"key_{uuid.uuid4()}"
    params: stripe.params.PaymentIntentCreateParams = {"amount": 1500, "currency": "usd", "metadata": {"n": "1"}}
    first = client.v1.payment_intents.create(params=params, options={"idempotency_key": key})
    second = client.v1.payment_intents.create(params=params, options={"idempotency_key": key})
    assert second.id == first.id
    assert second.last_response is not None and first.last_response is not None
    assert second.last_response.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.last_response.headers
    assert second.last_response.headers["request-id"] != first.last_response.headers["request-id"]


def test_idempotency_key_with_different_params_is_rejected(client: stripe.StripeClient) -> None:
    key = f"key_{uuid.uuid4()}"
    client.v1.payment_intents.create(params={"amount": 1500, "currency": "usd"}, options={"idempotency_key": key})
    with pytest.raises(stripe.IdempotencyError) as raised:
        client.v1.payment_intents.create(params={"amount": 1600, "currency": "usd"}, options={"idempotency_key": key})
    assert "same parameters" in raised.value.user_message


def test_idempotency_keys_are_scoped_to_the_api_key(base_url: str) -> None:
    key = f"key_{uuid.uuid4()}"
    first = sdk_client(base_url, "sk_test_a").v1.payment_intents.create(
        params={"amount": 100, "currency": "usd"}, options={"idempotency_key": key})
    other = sdk_client(base_url, "sk_test_b").v1.payment_intents.create(
        params={"amount": 100, "currency": "usd"}, options={"idempotency_key": key})
    assert other.id != first.id


def test_replayed_decline_is_the_same_decline(base_url: str) -> None:
    data = {"amount": "1000", "currency": "usd", "confirm": "true", "payment_method": "pm_card_chargeDeclined"}
    headers = {"Idempotency-Key": f"key_{uuid.uuid4()}"}
    first = raw_post(base_url, "/v1/payment_intents", data, headers)
    again = raw_post(base_url, "/v1/payment_intents", data, headers)
    assert first.status_code == again.status_code == 402
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"


def test_non_test_key_is_refused(base_url: str) -> None:
    with pytest.raises(stripe.AuthenticationError) as raised:
        sdk_client(base_url, "sk_live_123").v1.payment_intents.create(params={"amount": 100, "currency": "usd"})
    assert raised.value.http_status == 401
    body = raw_post(base_url, "/v1/payment_intents", {}, {"Authorization": "Bearer rk_live_x"}).json()
    assert body["error"]["type"] == "invalid_request_error"


def test_unknown_intent_is_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.retrieve("pi_nope")
    assert (raised.value.http_status, raised.value.code) == (404, "resource_missing")


def test_missing_and_invalid_params_name_the_param(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(params={"currency": "usd"})  # type: ignore[typeddict-item]
    assert (raised.value.http_status, raised.value.param) == (400, "amount")
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(params={"amount": 100, "currency": "xyz"})
    assert raised.value.param == "currency"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(params={"amount": 100, "currency": "usd", "capture_method": "later"})
    assert raised.value.param == "capture_method"


def test_invalid_card_number_is_a_card_error(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as raised:
        client.v1.payment_methods.create(
            params={"type": "card", "card": {"number": "4242424242424241", "exp_month": 1, "exp_year": 2040}})
    assert raised.value.code == "incorrect_number"
    assert "4242424242424241" not in str(raised.value.json_body)


def test_unknown_url_is_a_stripe_error(base_url: str) -> None:
    response = raw_post(base_url, "/v1/charges_nope", {})
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith("Unrecognized request URL")
    assert response.headers["Request-Id"].startswith("req_")


def test_the_sandbox_never_keeps_a_full_card_number() -> None:
    number = "4000000000009995"
    app = create_app()
    with running_sandbox(app=app) as url:
        data = {"amount": "100", "currency": "usd", "confirm": "true", "payment_method_data[type]": "card",
                "payment_method_data[card][number]": number, "payment_method_data[card][exp_month]": "12",
                "payment_method_data[card][exp_year]": "2040", "payment_method_data[card][cvc]": "123"}
        response = raw_post(url, "/v1/payment_intents", data, {"Idempotency-Key": "key_pan"})
        assert response.status_code == 402
        assert number not in response.text
        store = app.state.sandbox.store
        assert number not in repr(vars(store))
        assert len(store.responses) == 1 and len(store.methods) == 1


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"amount": "9" * 5000, "currency": "usd"}, "amount"),
        ({"amount": "100000000", "currency": "usd"}, "amount"),
        ({"amount": "-5", "currency": "usd"}, "amount"),
        ({"amount": "12.5", "currency": "usd"}, "amount"),
        ({"amount": "100", "currency": "usd", "metadata": "x", "metadata[a]": "1"}, "metadata"),
        ({**{f"metadata[k{i}]": "v" for i in range(1001)}, "amount": "1", "currency": "usd"}, None),
    ],
)
def test_malformed_bodies_are_400_not_500(base_url: str, body: dict[str, str], param: str | None) -> None:
    response = raw_post(base_url, "/v1/payment_intents", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"].get("param") == param


def test_non_utf8_body_is_400(base_url: str) -> None:
    headers = {"Authorization": "Bearer sk_test_123", "Content-Type": "application/x-www-form-urlencoded"}
    response = httpx.post(base_url + "/v1/payment_intents", content=b"amount=\xff\xfe", headers=headers)
    assert response.status_code == 400
