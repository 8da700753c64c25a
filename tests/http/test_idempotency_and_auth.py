"""Idempotency-Key semantics and API key authentication."""

from __future__ import annotations

import httpx

from basketpay.server import ServerProcess
from tests.helpers import card, post


def test_same_key_same_body_replays_the_stored_response(client: httpx.Client) -> None:
    body = {"amount": 1234, "currency": "usd", "payment_method": card(client), "confirm": True}
    first = post(client, "/v1/payment_intents", body, key="replay-me")
    second = post(client, "/v1/payment_intents", body, key="replay-me")
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert len(client.get("/v1/payment_intents").json()["data"]) == 1


def test_errors_are_replayed_too(client: httpx.Client) -> None:
    body = {"amount": 1234, "currency": "usd", "payment_method": card(client, "4000000000009995"), "confirm": True}
    first = post(client, "/v1/payment_intents", body, key="decline-once")
    second = post(client, "/v1/payment_intents", body, key="decline-once")
    assert first.status_code == second.status_code == 402
    assert first.content == second.content


def test_same_key_different_body_is_422(client: httpx.Client) -> None:
    assert post(client, "/v1/payment_intents", {"amount": 100, "currency": "usd"}, key="k").status_code == 200
    mismatch = post(client, "/v1/payment_intents", {"amount": 101, "currency": "usd"}, key="k")
    assert mismatch.status_code == 422
    assert mismatch.json()["error"]["code"] == "idempotency_key_reused"
    other_path = post(client, "/v1/payment_methods", {"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 1, "exp_year": 2032}}, key="k")
    assert other_path.status_code == 422


def test_keys_are_scoped_to_the_merchant(client: httpx.Client, server: ServerProcess, engine) -> None:  # type: ignore[no-untyped-def]
    from basketpay.merchants.service import create_merchant

    with engine.begin() as connection:
        other = create_merchant(connection, "other")
    mine = post(client, "/v1/payment_intents", {"amount": 100, "currency": "usd"}, key="shared-key")
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {other.secret_key}"}) as theirs:
        their = post(theirs, "/v1/payment_intents", {"amount": 100, "currency": "usd"}, key="shared-key")
    assert mine.json()["id"] != their.json()["id"]


def test_authentication(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url) as anonymous:
        missing = anonymous.get("/v1/payment_intents")
        assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"
        wrong = anonymous.get("/v1/payment_intents", headers={"Authorization": "Bearer sk_test_" + "x" * 32})
        assert wrong.status_code == 401
        assert "x" * 32 not in wrong.text  # the key is never echoed in full
        malformed = anonymous.get("/v1/payment_intents", headers={"Authorization": "Basic abc"})
        assert malformed.status_code == 401
