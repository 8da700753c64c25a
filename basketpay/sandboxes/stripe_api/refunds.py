"""Refunds against a PaymentIntent's captured amount: never more than captured minus
already refunded. Card refunds in the sandbox succeed at once."""

from __future__ import annotations

from typing import Any

from basketpay.ids import new_id
from basketpay.sandboxes.stripe_api.errors import StripeApiError, invalid_param
from basketpay.sandboxes.stripe_api.intents import PaymentIntent

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def refund(
    intent: PaymentIntent, amount: int | None, reason: str | None, metadata: dict[str, str], now: int
) -> dict[str, Any]:
    if intent.amount_received == 0 or intent.latest_charge is None:
        raise StripeApiError(400, f"This PaymentIntent ({intent.id}) does not have a successful charge to refund.",
                             code="charge_not_refundable", param="payment_intent")
    refundable = intent.amount_received - intent.amount_refunded
    if refundable == 0:
        raise StripeApiError(400, f"Charge {intent.latest_charge} has already been refunded.",
                             code="charge_already_refunded")
    refund_amount = refundable if amount is None else amount
    if refund_amount > refundable:
        raise invalid_param("amount", f"Refund amount ({refund_amount}) is greater than unrefunded amount on "
                            f"charge ({refundable})", code="amount_too_large")
    intent.amount_refunded += refund_amount
    intent.check()
    return {
        "id": new_id("re"),
        "object": "refund",
        "amount": refund_amount,
        "charge": intent.latest_charge,
        "created": now,
        "currency": intent.currency,
        "metadata": metadata,
        "payment_intent": intent.id,
        "reason": reason,
        "status": "succeeded",
    }


def charge_json(intent: PaymentIntent, now: int) -> dict[str, Any]:
    """The charge as `charge.refunded` carries it: only the fields a refund changes."""
    return {
        "id": intent.latest_charge,
        "object": "charge",
        "amount": intent.amount,
        "amount_captured": intent.amount_received,
        "amount_refunded": intent.amount_refunded,
        "captured": intent.amount_received > 0,
        "created": now,
        "currency": intent.currency,
        "livemode": False,
        "payment_intent": intent.id,
        "refunded": intent.amount_refunded == intent.amount_received,
        "status": "succeeded",
    }
