"""Concurrent requests on one payment, against the real server and PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import httpx
from sqlalchemy import Engine, func, select

from basketpay.connectors.sandbox.tables import sandbox_operations
from basketpay.payments.tables import payment_attempts
from tests.helpers import authorized, card, post


def run_together(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Start every call at the same instant (a barrier), return the responses in order."""
    barrier = threading.Barrier(len(calls))
    results: list[httpx.Response | None] = [None] * len(calls)

    def worker(index: int) -> None:
        barrier.wait()
        results[index] = calls[index]()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [r for r in results if r is not None]


def test_racing_captures_never_exceed_the_authorized_amount(client: httpx.Client) -> None:
    intent = authorized(client, 10_000)
    path = f"/v1/payment_intents/{intent['id']}/capture"
    body = {"amount_to_capture": 3000, "final_capture": False}
    responses = run_together([lambda: post(client, path, body) for _ in range(8)])
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 400, 409}, statuses
    final = client.get(f"/v1/payment_intents/{intent['id']}").json()
    assert final["amount_received"] == 3000 * statuses[200]
    assert final["amount_received"] + final["amount_capturable"] <= 10_000
    assert statuses[200] <= 3


def test_capture_racing_cancel_exactly_one_wins(client: httpx.Client) -> None:
    for _ in range(5):
        intent = authorized(client, 5000)
        base = f"/v1/payment_intents/{intent['id']}"
        capture, cancel = run_together([
            lambda base=base: post(client, base + "/capture", {}),  # type: ignore[misc]
            lambda base=base: post(client, base + "/cancel", {}),  # type: ignore[misc]
        ])
        assert sorted([capture.status_code, cancel.status_code]) == [200, 409], (capture.text, cancel.text)
        final = client.get(base).json()
        if capture.status_code == 200:
            assert (final["status"], final["amount_received"]) == ("succeeded", 5000)
        else:
            assert (final["status"], final["amount_received"]) == ("canceled", 0)


def test_fifty_concurrent_requests_with_one_key_make_one_processor_call(client: httpx.Client, engine: Engine) -> None:
    payment_method = card(client)
    intent = post(client, "/v1/payment_intents", {
        "amount": 4200, "currency": "usd", "capture_method": "manual", "payment_method": payment_method,
    }).json()
    path = f"/v1/payment_intents/{intent['id']}/confirm"
    responses = run_together([lambda: post(client, path, {}, key="one-key-for-fifty") for _ in range(50)])
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {200, 409}, statuses
    assert statuses[200] >= 1
    bodies = {r.content for r in responses if r.status_code == 200}
    assert len(bodies) == 1  # every success is the one stored response
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.json()["error"]["code"] in ("idempotency_key_in_use", "payment_intent_operation_in_progress")
    with engine.connect() as connection:
        attempts = connection.scalar(
            select(func.count()).where(payment_attempts.c.payment_intent_id == intent["id"])
        )
        processor_calls = connection.scalar(
            select(func.count()).where(
                sandbox_operations.c.idempotency_key.in_(
                    select(payment_attempts.c.processor_idempotency_key).where(
                        payment_attempts.c.payment_intent_id == intent["id"]
                    )
                )
            )
        )
    assert (attempts, processor_calls) == (1, 1)
    # The same key replays the stored answer after the race, too.
    assert post(client, path, {}, key="one-key-for-fifty").content in bodies
