"""Finished keys are kept for the retention period, then the sweeper deletes them."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import Engine, func, select, update

from basketpay.idempotency.tables import idempotency_keys
from basketpay.settings import Settings
from tests.helpers import post, sweep_once


def keys_left(engine: Engine, merchant_id: str) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(select(idempotency_keys.c.key).where(idempotency_keys.c.merchant_id == merchant_id)))


def test_keys_older_than_the_ttl_are_deleted(
    client: httpx.Client, engine: Engine, merchant: tuple[str, str], settings: Settings
) -> None:
    post(client, "/v1/payment_intents", {"amount": 100, "currency": "usd"}, key="old")
    post(client, "/v1/payment_intents", {"amount": 100, "currency": "usd"}, key="young")
    with engine.begin() as connection:
        connection.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.merchant_id == merchant[0], idempotency_keys.c.key == "old")
            .values(created_at=func.now() - dt.timedelta(hours=settings.idempotency_key_ttl_hours, minutes=1))
        )

    sweep_once(settings)
    assert keys_left(engine, merchant[0]) == {"young"}
    replayed = post(client, "/v1/payment_intents", {"amount": 100, "currency": "usd"}, key="young")
    assert replayed.status_code == 200
