"""The payment intent state machine: one table of allowed transitions, one of which
statuses each operation may start from. Everything else is a 409."""

from __future__ import annotations

import enum

from basketpay.errors import Conflict


class Status(enum.StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_CAPTURE = "requires_capture"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


_ = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    _.REQUIRES_PAYMENT_METHOD: frozenset({_.REQUIRES_CONFIRMATION, _.PROCESSING, _.CANCELED}),
    _.REQUIRES_CONFIRMATION: frozenset({_.REQUIRES_PAYMENT_METHOD, _.PROCESSING, _.CANCELED}),
    # PROCESSING -> REQUIRES_CONFIRMATION: the processor never saw the call (sweeper restores).
    _.PROCESSING: frozenset(
        {_.REQUIRES_PAYMENT_METHOD, _.REQUIRES_CONFIRMATION, _.REQUIRES_CAPTURE, _.SUCCEEDED}
    ),
    _.REQUIRES_CAPTURE: frozenset({_.REQUIRES_CAPTURE, _.SUCCEEDED, _.CANCELED}),
    _.SUCCEEDED: frozenset(),
    _.CANCELED: frozenset(),
}

OPERATION_FROM: dict[str, frozenset[Status]] = {
    "confirm": frozenset({_.REQUIRES_PAYMENT_METHOD, _.REQUIRES_CONFIRMATION}),
    "capture": frozenset({_.REQUIRES_CAPTURE}),
    "increment_authorization": frozenset({_.REQUIRES_CAPTURE}),
    "cancel": frozenset({_.REQUIRES_PAYMENT_METHOD, _.REQUIRES_CONFIRMATION, _.REQUIRES_CAPTURE}),
    "refund": frozenset({_.REQUIRES_CAPTURE, _.SUCCEEDED}),
}
del _


def require_operation_allowed(operation: str, status: Status) -> None:
    if status not in OPERATION_FROM[operation]:
        raise Conflict(
            f"You cannot {operation.replace('_', ' ')} this PaymentIntent because it has a status of "
            f"{status.value}.",
            code="payment_intent_unexpected_state",
        )


def require_transition_allowed(current: Status, target: Status) -> None:
    if target not in TRANSITIONS[current]:
        raise Conflict(
            f"A PaymentIntent cannot move from {current.value} to {target.value}.",
            code="payment_intent_unexpected_state",
        )
