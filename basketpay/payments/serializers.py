"""The JSON shapes of payment intents and refunds (Stripe's field names)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from basketpay.payments.domain import PaymentIntent


def _unix(moment: dt.datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def intent_json(intent: PaymentIntent) -> dict[str, Any]:
    return {
        "id": intent.id,
        "object": "payment_intent",
        "amount": intent.amount,
        "amount_authorized": intent.amount_authorized,
        "amount_capturable": intent.amount_capturable,
        "amount_received": intent.amount_received,
        "amount_refunded": intent.amount_refunded,
        "currency": intent.currency,
        "status": intent.status.value,
        "capture_method": intent.capture_method,
        "payment_method": intent.payment_method_id,
        "customer": intent.customer,
        "description": intent.description,
        "metadata": intent.metadata,
        "off_session": intent.off_session,
        "card_brand": intent.card_brand,
        "connector": intent.connector,
        "processor_reference": intent.processor_reference,
        "authorization_expires_at": _unix(intent.authorization_expires_at),
        "last_payment_error": intent.last_payment_error,
        "cancellation_reason": intent.cancellation_reason,
        "canceled_at": _unix(intent.canceled_at),
        "created": _unix(intent.created_at),
    }


def refund_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "refund",
        "amount": row.amount,
        "currency": row.currency,
        "payment_intent": row.payment_intent_id,
        "status": row.status,
        "reason": row.reason,
        "metadata": row.metadata,
        "failure_reason": row.failure_reason,
        "created": _unix(row.created_at),
    }
