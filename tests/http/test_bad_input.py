"""Bad input gets a 4xx naming the parameter, and writes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from basketpay.idempotency.tables import idempotency_keys
from basketpay.outbox.tables import events
from basketpay.payments.tables import payment_attempts, payment_intents, refunds
from basketpay.vault.tables import payment_methods
from tests.helpers import authorized, post

TABLES = (payment_intents, payment_methods, refunds, events, idempotency_keys, payment_attempts)


def row_counts(engine: Engine, merchant_id: str) -> tuple[int, ...]:
    with engine.connect() as connection:
        return tuple(
            int(connection.scalar(select(func.count()).where(table.c.merchant_id == merchant_id)) or 0)
            for table in TABLES
        )


def _card(**overrides: Any) -> dict[str, Any]:
    card = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123", **overrides}
    return {"type": "card", "card": card}


def _intent(**overrides: Any) -> dict[str, Any]:
    return {"amount": 1000, "currency": "usd", **overrides}


CASES = [
    ("/v1/payment_intents", _intent(amount=0), "amount"),
    ("/v1/payment_intents", _intent(amount=-5), "amount"),
    ("/v1/payment_intents", _intent(amount=10.5), "amount"),
    ("/v1/payment_intents", _intent(amount="1000"), "amount"),
    ("/v1/payment_intents", _intent(amount=2**63), "amount"),
    ("/v1/payment_intents", _intent(amount=10**20), "amount"),
    ("/v1/payment_intents", _intent(amount=99_999_999_999_999), "amount"),
    ("/v1/payment_intents", _intent(currency="xyz"), "currency"),
    ("/v1/payment_intents", _intent(currency=5), "currency"),
    ("/v1/payment_intents", _intent(capture_method="later"), "capture_method"),
    ("/v1/payment_intents", _intent(surprise=1), "surprise"),
    ("/v1/payment_intents", {"currency": "usd"}, "amount"),
    ("/v1/payment_intents", _intent(metadata={f"k{i}": "v" for i in range(51)}), "metadata"),
    ("/v1/payment_intents", _intent(metadata={"k": "v" * 501}), "metadata[k]"),
    ("/v1/payment_intents", _intent(metadata={"k" * 41: "v"}), "metadata[" + "k" * 40 + "]"),
    ("/v1/payment_intents", _intent(metadata={"k": 5}), "metadata[k]"),
    ("/v1/payment_intents", _intent(payment_method="pm_missing"), "payment_method"),
    ("/v1/payment_intents", _intent(confirm=True, payment_method="pm_missing"), "payment_method"),
    ("/v1/payment_methods", _card(number="4242424242424241"), "card[number]"),
    ("/v1/payment_methods", _card(number="4242abcd42424242"), "card[number]"),
    ("/v1/payment_methods", _card(exp_month=13), "card[exp_month]"),
    ("/v1/payment_methods", _card(exp_year=2001), "card[exp_year]"),
    ("/v1/payment_methods", _card(cvc="12a"), "card[cvc]"),
    ("/v1/payment_methods", {"type": "card"}, "card"),
    ("/v1/payment_methods", {"type": "bank", "card": _card()["card"]}, "type"),
    ("/v1/refunds", {"payment_intent": "pi_missing"}, "intent"),
    # found by the fuzz test: each was a 500 before
    ("/v1/payment_methods", _card(exp_month=2**64), "card[exp_month]"),
    ("/v1/payment_methods", _card(exp_year=2**64), "card[exp_year]"),
    ("/v1/refunds", {"payment_intent": "\u0000pi"}, "payment_intent"),
    ("/v1/payment_intents", _intent(description="a\u0000b"), "description"),
    ("/v1/payment_intents", _intent(metadata={"k": "\u0000"}), "metadata[k]"),
]


@pytest.mark.parametrize(("path", "body", "param"), CASES)
def test_bad_body_is_a_4xx_naming_the_param_and_writes_nothing(
    client: httpx.Client, engine: Engine, merchant: tuple[str, str], path: str, body: dict[str, Any], param: str
) -> None:
    before = row_counts(engine, merchant[0])
    response = post(client, path, body)
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert error["param"] == param, error
    assert error["message"]
    assert row_counts(engine, merchant[0]) == before


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"", b'"text"'])
def test_malformed_bodies(client: httpx.Client, engine: Engine, merchant: tuple[str, str], raw: bytes) -> None:
    before = row_counts(engine, merchant[0])
    response = client.post(
        "/v1/payment_intents", content=raw, headers={"Content-Type": "application/json", "Idempotency-Key": "m"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert row_counts(engine, merchant[0]) == before


def test_amounts_above_capturable_or_refundable(client: httpx.Client, engine: Engine, merchant: tuple[str, str]) -> None:
    intent = authorized(client, 5000)
    before = row_counts(engine, merchant[0])
    capture = post(client, f"/v1/payment_intents/{intent['id']}/capture", {"amount_to_capture": 5001})
    assert (capture.status_code, capture.json()["error"]["param"]) == (400, "amount_to_capture")
    refund = post(client, "/v1/refunds", {"payment_intent": intent["id"], "amount": 1})
    assert (refund.status_code, refund.json()["error"]["param"]) == (400, "amount")
    assert row_counts(engine, merchant[0]) == before


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"starting_after": "pi_nope"}, {"ending_before": "pi_nope"}]
)
def test_bad_list_parameters(client: httpx.Client, params: dict[str, Any]) -> None:
    response = client.get("/v1/payment_intents", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["param"] in ("limit", "starting_after", "ending_before")


def test_processor_calls_need_an_idempotency_key(client: httpx.Client) -> None:
    intent = authorized(client, 1000)
    response = post(client, f"/v1/payment_intents/{intent['id']}/capture", {}, key=None)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_missing"


def test_unknown_object_and_url(client: httpx.Client) -> None:
    assert client.get("/v1/payment_intents/pi_nope").status_code == 404
    assert client.get("/v1/nothing_here").status_code == 404


def test_malformed_ids_are_400_naming_the_param(client: httpx.Client) -> None:
    response = client.get("/v1/payment_intents/pi%00x")
    assert (response.status_code, response.json()["error"]["param"]) == (400, "intent_id")
    listing = client.get("/v1/payment_intents", params={"starting_after": "pi\x00"})
    assert (listing.status_code, listing.json()["error"]["param"]) == (400, "starting_after")
