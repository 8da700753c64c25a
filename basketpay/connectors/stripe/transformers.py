"""Stripe's answers as `ProcessorResult`s. Conservative: only a status that is explicitly
success or failure is mapped to one; anything else (requires_action, processing, a field
missing or of the wrong type) is UNKNOWN, for `inquire` to resolve later.

Errors, as the SDK raises them:

    stripe.StripeError
    ├── CardError                 402: DECLINED (error code, decline code, user-safe message)
    ├── IdempotencyError          key reused with other parameters: UNKNOWN "idempotency_error"
    │                             (the key did something else once: never read as "not done")
    ├── InvalidRequestError       400/404, e.g. payment_intent_unexpected_state: FAILED
    ├── AuthenticationError       401: FAILED "processor_authentication_failed"
    ├── PermissionError           403: FAILED "processor_authentication_failed"
    ├── RateLimitError            429: UNKNOWN
    ├── APIConnectionError        no reply (refused, reset, timed out): UNKNOWN
    ├── APIError                  5xx, 409 (a concurrent request with the key): UNKNOWN
    └── anything else             UNKNOWN
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import stripe

from basketpay.connectors.base import Outcome, ProcessorResult, safe_message, unknown

logger = logging.getLogger(__name__)

AUTHORIZED_STATUSES = ("requires_capture", "succeeded")  # a sale succeeds at once; an authorization later may


def _text(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) else None


def _integer(obj: Mapping[str, Any], name: str) -> int | None:
    value = obj.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _unexpected(what: str, intent_id: str | None, status: str | None) -> ProcessorResult:
    # Only the id and status: the rest of a response may carry card or customer details.
    logger.warning("stripe %s: unexpected or malformed answer for %s (status %s)", what, intent_id, status)
    return unknown(f"Stripe answered {what} with status {status}.", intent_id)


def authorization(intent: Mapping[str, Any], amount: int) -> ProcessorResult:
    intent_id, status, authorized = _text(intent, "id"), _text(intent, "status"), _integer(intent, "amount")
    if intent_id is None or authorized != amount:
        return _unexpected("authorize", intent_id, status)
    if status in AUTHORIZED_STATUSES:
        return ProcessorResult(Outcome.SUCCEEDED, intent_id, amount)
    last_error = intent.get("last_payment_error")
    if status == "requires_payment_method" and isinstance(last_error, Mapping):
        code = _text(last_error, "code")
        return ProcessorResult(Outcome.DECLINED, intent_id, amount, code, _text(last_error, "decline_code") or code,
                               safe_message(_text(last_error, "message")))
    return _unexpected("authorize", intent_id, status)


def capture(intent: Mapping[str, Any], amount: int, final: bool) -> ProcessorResult:
    """Stateless, so "amount_received increased" is checked as "at least this capture's amount"."""
    intent_id, status, received = _text(intent, "id"), _text(intent, "status"), _integer(intent, "amount_received")
    expected = ("succeeded",) if final else ("succeeded", "requires_capture")
    if intent_id is not None and status in expected and received is not None and received >= amount:
        return ProcessorResult(Outcome.SUCCEEDED, intent_id, amount)
    return _unexpected("capture", intent_id, status)


def increment(intent: Mapping[str, Any], amount_total: int) -> ProcessorResult:
    intent_id, status = _text(intent, "id"), _text(intent, "status")
    if intent_id is not None and status == "requires_capture" and _integer(intent, "amount") == amount_total:
        return ProcessorResult(Outcome.SUCCEEDED, intent_id, amount_total)
    return _unexpected("increment_authorization", intent_id, status)


def void(intent: Mapping[str, Any]) -> ProcessorResult:
    intent_id, status = _text(intent, "id"), _text(intent, "status")
    amount, received = _integer(intent, "amount"), _integer(intent, "amount_received")
    if intent_id is not None and status == "canceled" and amount is not None and received is not None:
        return ProcessorResult(Outcome.SUCCEEDED, intent_id, amount - received)  # the amount released
    return _unexpected("void", intent_id, status)


def refund(refund_object: Mapping[str, Any], intent_id: str, amount: int) -> ProcessorResult:
    """The reference stays the PaymentIntent's id: basketpay knows the payment by it."""
    status, refunded = _text(refund_object, "status"), _integer(refund_object, "amount")
    if refunded != amount or _text(refund_object, "payment_intent") != intent_id:
        return _unexpected("refund", intent_id, status)
    if status == "succeeded":
        return ProcessorResult(Outcome.SUCCEEDED, intent_id, amount)
    if status in ("failed", "canceled"):
        code = _text(refund_object, "failure_reason") or f"refund_{status}"
        return ProcessorResult(Outcome.FAILED, intent_id, amount, code, message=f"The refund {status}.")
    if status != "pending":
        return _unexpected("refund", intent_id, status)
    return unknown("The refund is pending.", intent_id)


def _card_error(error: stripe.CardError) -> ProcessorResult:
    details = error.error
    decline_code = details.decline_code if details is not None else None
    intent = details.payment_intent if details is not None else None
    reference = intent.id if intent is not None else None
    amount = intent.amount if intent is not None else 0
    return ProcessorResult(Outcome.DECLINED, reference, amount, error.code, decline_code or error.code,
                           safe_message(error.user_message))


def from_error(error: BaseException) -> ProcessorResult:
    """An exception raised while calling Stripe; see the module docstring for the map."""
    if isinstance(error, stripe.CardError):
        return _card_error(error)
    if isinstance(error, stripe.IdempotencyError):
        logger.warning("stripe refused a reused idempotency key: basketpay's request differs from the first")
        return ProcessorResult(Outcome.UNKNOWN, error_code="idempotency_error", message=safe_message(error.user_message))
    if isinstance(error, stripe.InvalidRequestError):
        code = error.code or "invalid_request"
        return ProcessorResult(Outcome.FAILED, error_code=code, message=safe_message(error.user_message))
    if isinstance(error, (stripe.AuthenticationError, stripe.PermissionError)):
        return ProcessorResult(Outcome.FAILED, error_code="processor_authentication_failed",
                               message="Stripe rejected the API key.")
    if isinstance(error, TimeoutError):
        return unknown("No answer from Stripe within the timeout.")
    status = error.http_status if isinstance(error, stripe.StripeError) else None
    logger.warning("stripe call failed without a definitive answer: %s (HTTP %s)", type(error).__name__, status)
    return unknown(f"No definitive answer from Stripe ({type(error).__name__}).")
