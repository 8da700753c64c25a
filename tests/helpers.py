"""Small helpers for driving the API in tests."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import redis

from basketpay.api.app import build_services
from basketpay.payments.sweeper import Sweeper, SweepReport
from basketpay.settings import Settings

REDIS_URL = os.environ.get("BASKETPAY_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_prefix(name: str) -> Iterator[str]:
    """For a fixture: a key prefix of the test's own in the real Redis, its keys deleted afterwards."""
    prefix = f"test:{name}:{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()

VISA = "4242424242424242"

# The test cards that decline, with the code and decline code each must produce
# (Stripe's documented test cards): one table for every test that checks them.
DECLINE_CARDS = [
    ("4000000000000002", "card_declined", "generic_decline"),
    ("4000000000009995", "card_declined", "insufficient_funds"),
    ("4000000000009987", "card_declined", "lost_card"),
    ("4000000000009979", "card_declined", "stolen_card"),
    ("4000000000000069", "expired_card", "expired_card"),
    ("4000000000000127", "incorrect_cvc", "incorrect_cvc"),
    ("4000000000000119", "processing_error", "processing_error"),
]


def new_key() -> str:
    return "test-" + uuid.uuid4().hex


def post(client: httpx.Client, path: str, body: dict[str, Any] | None = None, key: str | None = "auto") -> httpx.Response:
    headers = {} if key is None else {"Idempotency-Key": new_key() if key == "auto" else key}
    return client.post(path, json=body if body is not None else {}, headers=headers)


def card(client: httpx.Client, number: str = VISA, cvc: str = "123") -> str:
    response = post(
        client, "/v1/payment_methods",
        {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2031, "cvc": cvc}},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def authorized(client: httpx.Client, amount: int = 10_000, currency: str = "usd", number: str = VISA) -> dict[str, Any]:
    response = post(
        client, "/v1/payment_intents",
        {"amount": amount, "currency": currency, "capture_method": "manual",
         "payment_method": card(client, number), "confirm": True},
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "requires_capture"
    return response.json()  # type: ignore[no-any-return]


def sweep_once(settings: Settings) -> SweepReport:
    """One pass of the sweeper, in this process, with these settings."""

    async def once() -> SweepReport:
        container = await build_services(settings)
        try:
            return await Sweeper(container.payments).sweep_once()
        finally:
            await container.database.close()

    return asyncio.run(once())


def pay_and_capture(http: httpx.Client, payment_method: str) -> list[int]:
    """Authorize 20.00 and, if that answered, capture it; the status codes seen."""
    confirmed = post(http, "/v1/payment_intents", {
        "amount": 2000, "currency": "usd", "capture_method": "manual", "payment_method": payment_method,
        "confirm": True})
    statuses = [confirmed.status_code]
    if confirmed.status_code == 200:
        statuses.append(post(http, f"/v1/payment_intents/{confirmed.json()['id']}/capture", {}).status_code)
    return statuses


def drive_payments(base_url: str, secret_key: str, payments: int, clients: int) -> Counter[int]:
    """`payments` payments from `clients` threads; how often each status code came back."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {secret_key}"}, timeout=30) as http:
        payment_method = card(http)
        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(lambda _: pay_and_capture(http, payment_method), range(payments)))
    return Counter(status for statuses in results for status in statuses)
