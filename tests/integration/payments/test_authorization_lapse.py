"""An authorization past its expiry: the sweeper cancels the intent (or, partly captured,
lets it succeed with what it captured) and releases the rest of its ledger hold."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import Engine, text

from basketpay.ledger import chart
from basketpay.settings import Settings
from tests.helpers import authorized, post, sweep_once


def lapse(engine: Engine, intent_id: str) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE payment_intents SET authorization_expires_at = now() - interval '1 minute' "
                                "WHERE id = :id"), {"id": intent_id})


def pending_holds(client: httpx.Client, merchant_id: str) -> Any:
    account = chart.account_id(merchant_id, chart.CARD_AUTHORIZATION_HOLDS, "USD")
    return client.get(f"/v1/ledger/accounts/{account}/balance").json()["pending"]


def test_a_lapsed_authorization_is_canceled_and_its_hold_released(
    client: httpx.Client, merchant: tuple[str, str], engine: Engine, settings: Settings
) -> None:
    untouched, partly = authorized(client, 3000), authorized(client, 5000)
    assert post(client, f"/v1/payment_intents/{partly['id']}/capture",
                {"amount_to_capture": 1000, "final_capture": False}).status_code == 200
    assert pending_holds(client, merchant[0]) == 3000 + 4000
    lapse(engine, untouched["id"])
    lapse(engine, partly["id"])
    sweep_once(settings)  # (or the server's sweeper, whichever comes first)
    canceled = client.get(f"/v1/payment_intents/{untouched['id']}").json()
    assert (canceled["status"], canceled["cancellation_reason"], canceled["amount_capturable"]) == (
        "canceled", "automatic", 0)
    succeeded = client.get(f"/v1/payment_intents/{partly['id']}").json()
    assert (succeeded["status"], succeeded["amount_received"], succeeded["amount_capturable"]) == ("succeeded", 1000, 0)
    assert pending_holds(client, merchant[0]) == 0
    kinds = [e["kind"] for e in client.get("/v1/ledger/entries", params={"object_id": untouched["id"]}).json()["data"]]
    assert kinds == ["payment.authorization_expired", "payment.authorization"]
    capture = post(client, f"/v1/payment_intents/{untouched['id']}/capture", {})
    assert capture.status_code == 409  # nothing is left to capture
