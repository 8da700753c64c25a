"""One coroutine per scenario. Each drives a payment through the API the way a grocery
marketplace would, checks every answer, and returns what happened with the final intent."""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from basketpay.demo.client import (
    DECLINE_STATUS,
    MISMATCH_STATUS,
    DemoClient,
    expect,
    expect_intent,
    expect_status,
)
from basketpay.demo.plan import PlannedPayment

INTENTS = "/v1/payment_intents"
CAPTURE_PARTS_MAX = 3
REFUNDS_MAX = 2


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    outcomes: tuple[str, ...]
    intent: dict[str, Any]  # as the API last returned it; the money totals are read from it


async def _confirmed(client: DemoClient, payment: PlannedPayment, capture_method: str) -> dict[str, Any]:
    body = {
        "amount": payment.amount, "currency": payment.currency, "capture_method": capture_method,
        "payment_method": await client.card(payment.card_number), "confirm": True,
    }
    return expect_status(await client.post(INTENTS, body))


async def automatic(client: DemoClient, payment: PlannedPayment) -> ScenarioResult:
    intent = await _confirmed(client, payment, "automatic")
    expect_intent(intent, "succeeded", amount_received=payment.amount, amount_capturable=0)
    return ScenarioResult(("succeeded",), intent)


async def partial_captures(client: DemoClient, payment: PlannedPayment) -> ScenarioResult:
    """Items picked over time: each shipment is captured; what ran out of stock is released."""
    rng = random.Random(payment.seed)
    intent = await _confirmed(client, payment, "manual")
    expect_intent(intent, "requires_capture", amount_capturable=payment.amount)
    parts = rng.randint(2, CAPTURE_PARTS_MAX)
    captured_total = max(parts, payment.amount * rng.randint(80, 100) // 100)
    cuts = sorted(rng.sample(range(1, captured_total), parts - 1))
    shares = [high - low for low, high in zip([0, *cuts], [*cuts, captured_total], strict=True)]
    received = 0
    for number, share in enumerate(shares, start=1):
        final = number == parts
        body = {"amount_to_capture": share, "final_capture": final}
        intent = expect_status(await client.post(f"{INTENTS}/{intent['id']}/capture", body))
        received += share
        capturable = 0 if final else payment.amount - received
        expect_intent(intent, "succeeded" if final else "requires_capture",
                      amount_received=received, amount_capturable=capturable)
    return ScenarioResult(("captured in parts",), intent)


async def incremental(client: DemoClient, payment: PlannedPayment) -> ScenarioResult:
    """The customer added items after checkout: raise the hold, then capture the new total."""
    rng = random.Random(payment.seed)
    intent = expect_intent(await _confirmed(client, payment, "manual"), "requires_capture")
    new_total = payment.amount + max(1, payment.amount * rng.randint(5, 25) // 100)
    path = f"{INTENTS}/{intent['id']}"
    intent = expect_status(await client.post(f"{path}/increment_authorization", {"amount": new_total}))
    expect_intent(intent, "requires_capture", amount_authorized=new_total, amount_capturable=new_total)
    intent = expect_status(await client.post(f"{path}/capture", {}))
    expect_intent(intent, "succeeded", amount_received=new_total, amount_capturable=0)
    return ScenarioResult(("incremented then captured",), intent)


async def canceled(client: DemoClient, payment: PlannedPayment) -> ScenarioResult:
    intent = expect_intent(await _confirmed(client, payment, "manual"), "requires_capture")
    body = {"cancellation_reason": random.Random(payment.seed).choice(["abandoned", "requested_by_customer"])}
    intent = expect_status(await client.post(f"{INTENTS}/{intent['id']}/cancel", body))
    expect_intent(intent, "canceled", amount_received=0, amount_capturable=0, amount_authorized=payment.amount)
    return ScenarioResult(("canceled (voided)",), intent)


async def refunded(client: DemoClient, payment: PlannedPayment) -> ScenarioResult:
    """Missing or damaged items reported after delivery: one or two partial refunds."""
    rng = random.Random(payment.seed)
    intent = expect_intent(await _confirmed(client, payment, "automatic"), "succeeded")
    refunded_total = 0
    for _ in range(rng.randint(1, REFUNDS_MAX)):
        # Each refund takes at most a third of what remains, so the total stays partial.
        amount = rng.randint(1, max(1, (payment.amount - refunded_total) // 3))
        body = {"payment_intent": intent["id"], "amount": amount}
        refund = expect_status(await client.post("/v1/refunds", body))
        label = f"refund {refund.get('id')}"
        expect(refund.get("status") == "succeeded", f"{label}: status {refund.get('status')!r}")
        expect(refund.get("amount") == amount, f"{label}: amount {refund.get('amount')}, sent {amount}")
        refunded_total += amount
    intent = expect_status(await client.get(f"{INTENTS}/{intent['id']}"))
    expect_intent(intent, "succeeded", amount_received=payment.amount, amount_refunded=refunded_total)
    return ScenarioResult(("partially refunded",), intent)


async def declined(client: DemoClient, payment: PlannedPayment) -> ScenarioResult:
    body = {
        "amount": payment.amount, "currency": payment.currency,
        "payment_method": await client.card(payment.card_number), "confirm": True,
    }
    error = expect_status(await client.post(INTENTS, body), DECLINE_STATUS).get("error", {})
    expect(error.get("type") == "card_error", f"decline: error type {error.get('type')!r}")
    code = error.get("decline_code")
    expect(code == payment.decline_code, f"decline: decline_code {code!r}, expected {payment.decline_code!r}")
    intent = expect_intent(error.get("payment_intent", {}), "requires_payment_method", amount_authorized=0)
    return ScenarioResult((f"declined: {code}",), intent)


async def retried(client: DemoClient, payment: PlannedPayment) -> ScenarioResult:
    """A checkout whose response was lost: the retry with the same key must not charge twice,
    and reusing the key for a different basket must be refused."""
    key = str(uuid.uuid4())
    body = {
        "amount": payment.amount, "currency": payment.currency,
        "payment_method": await client.card(payment.card_number), "confirm": True,
    }
    first = await client.post(INTENTS, body, key)
    intent = expect_intent(expect_status(first), "succeeded", amount_received=payment.amount)
    replay = await client.post(INTENTS, body, key)
    expect_status(replay)
    expect(replay.content == first.content, f"{intent['id']}: the replayed response differs from the original")
    mismatch = await client.post(INTENTS, {**body, "amount": payment.amount + 100}, key)
    error = expect_status(mismatch, MISMATCH_STATUS).get("error", {})
    expect(error.get("type") == "idempotency_error", f"key reuse: error type {error.get('type')!r}")
    return ScenarioResult(("idempotent replay verified", "key reuse rejected"), intent)


Scenario = Callable[[DemoClient, PlannedPayment], Awaitable[ScenarioResult]]
SCENARIOS: dict[str, Scenario] = {
    "automatic": automatic,
    "partial_captures": partial_captures,
    "incremental": incremental,
    "canceled": canceled,
    "refunded": refunded,
    "declined": declined,
    "retried": retried,
}
