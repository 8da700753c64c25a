"""Verifying and reading Stripe webhook deliveries (`Stripe-Signature: t=…,v1=…`).

The SDK's own verifier checks the HMAC-SHA256 of "t.payload" against every v1
signature and refuses timestamps older than the tolerance, which is what stops a
captured delivery being replayed later; within the tolerance, a repeat is harmless
because events are recorded once by id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stripe

SIGNATURE_TOLERANCE_SECONDS = 300


class WebhookRejected(ValueError):
    """The delivery is not a genuine, fresh Stripe event."""


@dataclass(frozen=True, slots=True)
class StripeEvent:
    event_id: str
    type: str
    object_id: str | None
    payment_intent_id: str | None  # basketpay's, from the intent's metadata


def verify(payload: bytes, signature_header: str | None, secret: str) -> StripeEvent:
    if not signature_header:
        raise WebhookRejected("missing Stripe-Signature header")
    try:
        event = stripe.Webhook.construct_event(payload, signature_header, secret, SIGNATURE_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as error:
        raise WebhookRejected("bad or stale signature") from error
    except ValueError as error:
        raise WebhookRejected("the payload is not a JSON event") from error
    return _read(event.to_dict())


def _read(event: dict[str, Any]) -> StripeEvent:
    """The fields basketpay acts on; a signed event of an unexpected shape is rejected, not a crash."""
    try:
        data = event.get("data", {}).get("object") or {}
        metadata = data.get("metadata") or {}
        return StripeEvent(
            event_id=str(event["id"]), type=str(event["type"]), object_id=data.get("id"),
            payment_intent_id=metadata.get("basketpay_payment_intent") if data.get("object") == "payment_intent" else None,
        )
    except (AttributeError, KeyError, TypeError) as error:
        raise WebhookRejected("the event has an unexpected shape") from error
