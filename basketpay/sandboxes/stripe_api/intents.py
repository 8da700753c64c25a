"""A PaymentIntent and its state machine, as Stripe runs it for cards:

    requires_payment_method -> requires_confirmation -> (confirm)
        -> succeeded                       capture_method automatic
        -> requires_capture -> succeeded   capture_method manual (capture, partial or final)
        -> requires_payment_method         declined; last_payment_error set
    any state but succeeded/canceled -> canceled

Each operation returns the webhook event types it causes. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from basketpay.ids import new_id, new_secret
from basketpay.invariant import invariant
from basketpay.sandboxes.behaviour import Behaviour
from basketpay.sandboxes.stripe_api.cards import PaymentMethod, decline_at_confirm
from basketpay.sandboxes.stripe_api.errors import StripeApiError, invalid_param, unexpected_state

CONFIRMABLE = ("requires_payment_method", "requires_confirmation")
CANCELABLE = ("requires_payment_method", "requires_confirmation", "requires_action", "requires_capture", "processing")


@dataclass(slots=True)
class PaymentIntent:
    id: str
    amount: int
    currency: str
    capture_method: str
    created: int
    incremental_authorization: bool
    metadata: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    customer: str | None = None
    status: str = "requires_payment_method"
    payment_method: PaymentMethod | None = None
    amount_capturable: int = 0
    amount_received: int = 0
    amount_refunded: int = 0
    latest_charge: str | None = None
    last_payment_error: dict[str, Any] | None = None
    canceled_at: int | None = None
    cancellation_reason: str | None = None
    client_secret: str = field(default="")

    def __post_init__(self) -> None:
        self.client_secret = f"{self.id}_secret_{new_secret('', 24)}"

    def check(self) -> None:
        invariant(0 <= self.amount_refunded <= self.amount_received, "refunds never exceed what was captured")
        invariant(self.amount_received + self.amount_capturable <= self.amount, "captured + held <= amount")

    def to_json(self) -> dict[str, Any]:
        self.check()
        card = {"card": {"request_incremental_authorization": "if_available"}} if self.incremental_authorization else {}
        return {
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": self.amount_capturable,
            "amount_received": self.amount_received,
            "canceled_at": self.canceled_at,
            "cancellation_reason": self.cancellation_reason,
            "capture_method": self.capture_method,
            "client_secret": self.client_secret,
            "confirmation_method": "automatic",
            "created": self.created,
            "currency": self.currency,
            "customer": self.customer,
            "description": self.description,
            "last_payment_error": self.last_payment_error,
            "latest_charge": self.latest_charge,
            "livemode": False,
            "metadata": dict(self.metadata),
            "payment_method": self.payment_method.id if self.payment_method else None,
            "payment_method_options": card,
            "payment_method_types": ["card"],
            "status": self.status,
        }


def attach(intent: PaymentIntent, method: PaymentMethod) -> None:
    if intent.status not in CONFIRMABLE:
        raise unexpected_state("update the payment method of", intent.to_json())
    intent.payment_method = method
    intent.status = "requires_confirmation"


def confirm(intent: PaymentIntent, behaviour: Behaviour) -> tuple[list[str], StripeApiError | None]:
    """Run the card; a decline is returned (not raised) because the intent must change first.
    `behaviour` answers for cards that are not test cards."""
    if intent.status not in CONFIRMABLE:
        raise unexpected_state("confirm", intent.to_json())
    method = intent.payment_method
    if method is None:
        message = "You cannot confirm this PaymentIntent because it's missing a payment method."
        raise StripeApiError(400, message, code="payment_intent_unexpected_state", param="payment_method")
    intent.latest_charge = new_id("ch")
    decline = decline_at_confirm(method, behaviour)
    if decline is not None:
        error = {"type": "card_error", "code": decline.error_code, "decline_code": decline.decline_code,
                 "message": decline.message, "charge": intent.latest_charge, "payment_method": method.to_json()}
        intent.last_payment_error = error
        intent.payment_method = None  # Stripe detaches a failed method so a new one must be given
        intent.status = "requires_payment_method"
        extra = {"charge": intent.latest_charge, "payment_intent": intent.to_json(),
                 "payment_method": method.to_json()}
        declined = StripeApiError(402, decline.message, error_type="card_error", code=decline.error_code,
                                  decline_code=decline.decline_code, extra=extra)
        return ["payment_intent.payment_failed"], declined
    intent.last_payment_error = None
    if intent.capture_method == "manual":
        intent.status, intent.amount_capturable = "requires_capture", intent.amount
        return ["payment_intent.amount_capturable_updated"], None
    intent.status, intent.amount_received = "succeeded", intent.amount
    return ["payment_intent.succeeded"], None


def capture(intent: PaymentIntent, amount_to_capture: int | None, final_capture: bool) -> list[str]:
    if intent.status != "requires_capture":
        raise unexpected_state("capture", intent.to_json())
    amount = intent.amount_capturable if amount_to_capture is None else amount_to_capture
    if amount > intent.amount_capturable:
        raise invalid_param("amount_to_capture", f"The amount to capture ({amount}) is greater than the "
                            f"amount capturable ({intent.amount_capturable}).", code="amount_too_large")
    intent.amount_received += amount
    intent.amount_capturable -= amount
    if final_capture or intent.amount_capturable == 0:
        intent.amount_capturable = 0  # a final capture releases whatever is still held
        intent.status = "succeeded"
        return ["payment_intent.succeeded"]
    return ["payment_intent.amount_capturable_updated"]


def increment(intent: PaymentIntent, amount: int) -> list[str]:
    if intent.status != "requires_capture":
        raise unexpected_state("increment the authorization of", intent.to_json())
    if not intent.incremental_authorization:
        raise StripeApiError(400, "This PaymentIntent is not eligible for incremental authorization: request "
                             "it with payment_method_options[card][request_incremental_authorization]=if_available.",
                             code="incremental_authorization_not_supported")
    if amount <= intent.amount:
        raise invalid_param("amount", f"The new amount ({amount}) must be greater than the currently "
                            f"authorized amount ({intent.amount}).")
    intent.amount_capturable += amount - intent.amount
    intent.amount = amount
    return ["payment_intent.amount_capturable_updated"]


def cancel(intent: PaymentIntent, reason: str | None, now: int) -> list[str]:
    if intent.status not in CANCELABLE:
        raise unexpected_state("cancel", intent.to_json())
    intent.status, intent.amount_capturable = "canceled", 0
    intent.canceled_at, intent.cancellation_reason = now, reason
    return ["payment_intent.canceled"]
