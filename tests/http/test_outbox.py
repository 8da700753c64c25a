"""Every state change writes its event, in order, in the same statement as the change."""

from __future__ import annotations

import httpx
from sqlalchemy import Engine, select

from basketpay.outbox.tables import events
from tests.helpers import authorized, post


def test_the_lifecycle_leaves_its_events(client: httpx.Client, engine: Engine) -> None:
    intent = authorized(client, 5000)
    post(client, f"/v1/payment_intents/{intent['id']}/capture", {"amount_to_capture": 3000})
    refund = post(client, "/v1/refunds", {"payment_intent": intent["id"], "amount": 1000}).json()
    with engine.connect() as connection:
        rows = connection.execute(
            select(events.c.type, events.c.data).where(events.c.object_id.in_([intent["id"], refund["id"]])).order_by(events.c.seq)
        ).all()
    assert [row.type for row in rows] == [
        "payment_intent.created", "payment_intent.processing", "payment_intent.amount_capturable_updated",
        "payment_intent.captured", "refund.created", "payment_intent.refunded", "refund.succeeded",
    ]
    captured = next(row.data for row in rows if row.type == "payment_intent.captured")
    assert (captured["amount_received"], captured["status"]) == (3000, "succeeded")
