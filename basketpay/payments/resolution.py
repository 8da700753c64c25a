"""Applying a processor's answer to an attempt, its payment intent and its refund, and
the response the request (or its replay) gets. `completion` decides, in memory;
phase two writes it in one statement (phases.py), the slow path and the sweeper
write it inside a transaction with the intent locked (`apply_locked`), so every
path resolves an attempt the same way.

An attempt that is no longer pending was resolved already (by the sweeper, or by
a slower twin of this request): it is not applied twice, only its response rebuilt.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import orjson
from psycopg import AsyncConnection

from basketpay.connectors.base import Outcome, ProcessorResult
from basketpay.idempotency import keys
from basketpay.idempotency.keys import StoredResponse
from basketpay.invariant import invariant
from basketpay.ledger.payment_postings import Amounts, LedgerWrite, PaymentPostings
from basketpay.observability.metrics import PAYMENT_OUTCOMES
from basketpay.outbox.writer import event_row, record_events
from basketpay.payments import repository
from basketpay.payments.domain import PaymentIntent
from basketpay.payments.serializers import intent_json, refund_json
from basketpay.payments.states import Status

_ATTEMPT_STATUS = {Outcome.SUCCEEDED: "succeeded", Outcome.DECLINED: "declined", Outcome.FAILED: "failed"}


@dataclass(slots=True)
class Completion:
    """What one processor answer changes: written together, atomically."""

    attempt_values: dict[str, Any]
    refund_values: dict[str, Any] | None
    events: list[dict[str, Any]]
    response: StoredResponse
    ledger: LedgerWrite | None  # the entry the change posts, if it moved money


def _apply_to_intent(intent: PaymentIntent, attempt: Any, result: ProcessorResult, now: dt.datetime) -> str:
    """Change the aggregate; return the event type that describes the change."""
    operation, succeeded = attempt.operation, result.outcome is Outcome.SUCCEEDED
    if operation in ("authorize", "sale"):
        intent.complete_authorization(result, attempt.connector, now)
        if not succeeded:
            return "payment_intent.payment_failed"
        return "payment_intent.succeeded" if operation == "sale" else "payment_intent.amount_capturable_updated"
    if operation == "capture":
        intent.complete_capture(result, attempt.amount, attempt.final_capture)
        return "payment_intent.captured" if succeeded else "payment_intent.capture_failed"
    if operation == "increment_authorization":
        intent.complete_increment(result, attempt.amount)
        return "payment_intent.amount_capturable_updated" if succeeded else "payment_intent.increment_failed"
    if operation == "void":
        intent.complete_void(result, now)
        return "payment_intent.canceled" if succeeded else "payment_intent.cancel_failed"
    invariant(operation == "refund", f"unknown attempt operation {operation}")
    intent.complete_refund(result, attempt.amount)
    return "payment_intent.refunded" if succeeded else "payment_intent.refund_failed"


def completion(
    intent: PaymentIntent, attempt: Any, refund: Any, result: ProcessorResult, latency_ms: int | None, now: dt.datetime,
    postings: PaymentPostings,
) -> Completion:
    """Apply a definitive answer to the intent (in memory) and say what to write."""
    invariant(result.outcome is not Outcome.UNKNOWN, "only a definitive answer is applied")
    invariant(intent.id == attempt.payment_intent_id, "the attempt belongs to the intent")
    before = Amounts.of(intent)
    event_type = _apply_to_intent(intent, attempt, result, now)
    ledger = postings.for_change(intent, attempt, before) if result.outcome is Outcome.SUCCEEDED else None
    status = _ATTEMPT_STATUS[result.outcome]
    attempt_values = {
        "status": status, "processor_reference": result.processor_reference, "error_code": result.error_code,
        "decline_code": result.decline_code, "error_message": result.message, "latency_ms": latency_ms,
        "completed_at": now,
    }
    intent_body = intent_json(intent)  # once: the event and the response show the same state
    events = [event_row(intent.merchant_id, event_type, intent.id, intent_body)]
    refund_values = None
    if refund is not None:
        refund_values = {"status": "succeeded" if status == "succeeded" else "failed", "failure_reason": result.error_code}
        refund = _merged(refund, refund_values)
        events.append(event_row(intent.merchant_id, f"refund.{refund.status}", refund.id, refund_json(refund)))
    response = response_for(_merged(attempt, attempt_values), intent, refund, intent_body)
    return Completion(attempt_values, refund_values, events, response, ledger)


def count_outcome(attempt: Any, result: ProcessorResult) -> None:
    status = _ATTEMPT_STATUS[result.outcome]
    PAYMENT_OUTCOMES.labels(attempt.operation, status, attempt.connector, result.decline_code or "").inc()


def _merged(row: Any, values: dict[str, Any]) -> SimpleNamespace:
    base = row._asdict() if hasattr(row, "_asdict") else vars(row)
    return SimpleNamespace(**{**base, **values})


async def apply_locked(
    connection: AsyncConnection[Any], attempt: Any, intent: PaymentIntent, result: ProcessorResult,
    latency_ms: int | None, now: dt.datetime, postings: PaymentPostings, *, finish_key: bool = True,
) -> StoredResponse:
    """Inside a transaction, with the intent and the attempt locked. `finish_key` False: a
    cascade goes on under the request's key, whose last attempt finishes it."""
    refund = None
    if attempt.refund_id is not None:
        refund = await repository.load_refund(connection, attempt.merchant_id, attempt.refund_id)
    if attempt.status != "pending":
        response = response_for(attempt, intent, refund)
    else:
        done = completion(intent, attempt, refund, result, latency_ms, now, postings)
        await repository.save_intent(connection, intent)
        if done.ledger is not None:
            await done.ledger.write(connection, now)
        await repository.complete_attempt(connection, attempt.id, **done.attempt_values)
        if done.refund_values is not None:
            await repository.set_refund_status(connection, attempt.refund_id, **done.refund_values)
        await record_events(connection, done.events)
        count_outcome(attempt, result)
        response = done.response
    if finish_key:
        await keys.finish_for_attempt(connection, attempt, response, now)
    return response


def pending_response(intent: PaymentIntent, refund: Any) -> StoredResponse:
    """The outcome is unknown: 202 with the object as known now; retry the key, or poll."""
    body = refund_json(refund) if refund is not None else intent_json(intent)
    return StoredResponse(202, orjson.dumps(body))


def response_for(
    attempt: Any, intent: PaymentIntent, refund: Any, intent_body: dict[str, Any] | None = None
) -> StoredResponse:
    """The response to the request that made `attempt` (`intent_body`: the intent, already serialized)."""
    intent_body = intent_body or intent_json(intent)
    if attempt.status == "succeeded":
        body = refund_json(refund) if refund is not None else intent_body
        return StoredResponse(200, orjson.dumps(body))
    error = {
        "type": "card_error",
        "code": attempt.error_code or ("card_declined" if attempt.status == "declined" else "processing_error"),
        "decline_code": attempt.decline_code,
        "message": attempt.error_message or "The processor did not complete the request.",
        "param": None,
        "payment_intent": intent_body,
    }
    if refund is not None:
        error["refund"] = refund_json(refund)
    return StoredResponse(402, orjson.dumps({"error": error}))


def restore_after_not_processed(intent: PaymentIntent, attempt: Any) -> None:
    """The processor never saw the attempt: undo phase one's marker (and status)."""
    if attempt.operation in ("authorize", "sale"):
        intent.abandon_authorization(Status(attempt.status_before))
    else:
        intent.release_in_flight()
