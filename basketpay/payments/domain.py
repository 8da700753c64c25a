"""The PaymentIntent aggregate: its amounts, its state machine and the rules of each
operation. No database and no web framework here: the service loads it, calls a
`begin_*` method (which decides what the processor must be asked), then applies the
processor's answer with `complete`.

Money invariants are checked after every change (`_check`), and again by the
table's CHECK constraints.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from basketpay.connectors.base import Outcome, ProcessorResult
from basketpay.errors import Conflict, InvalidRequest
from basketpay.invariant import invariant
from basketpay.payments.expiry import authorization_expires_at
from basketpay.payments.states import (
    Status,
    require_operation_allowed,
    require_transition_allowed,
)


@dataclass(frozen=True, slots=True)
class AttemptPlan:
    """What to ask the processor: decided inside phase 1, executed between the phases."""

    operation: str  # authorize | sale | capture | increment_authorization | void | refund
    amount: int
    final_capture: bool = False


@dataclass(slots=True)
class PaymentIntent:
    id: str
    merchant_id: str
    amount: int
    currency: str
    capture_method: str
    status: Status
    version: int = 0
    payment_method_id: str | None = None
    customer: str | None = None
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    off_session: bool = False
    amount_authorized: int = 0
    amount_capturable: int = 0
    amount_received: int = 0
    amount_refunded: int = 0
    connector: str | None = None
    processor_reference: str | None = None
    card_brand: str | None = None
    authorization_expires_at: dt.datetime | None = None
    last_payment_error: dict[str, Any] | None = None
    in_flight_attempt_id: str | None = None
    cancellation_reason: str | None = None
    canceled_at: dt.datetime | None = None
    created_at: dt.datetime | None = None

    @property
    def amount_released(self) -> int:
        """Authorized money given back to the cardholder without being captured."""
        if self.status in (Status.SUCCEEDED, Status.CANCELED):
            return self.amount_authorized - self.amount_received
        return 0

    def _move(self, target: Status) -> None:
        require_transition_allowed(self.status, target)
        self.status = target

    def _check(self) -> None:
        invariant(self.amount > 0, "amount is positive")
        invariant(min(self.amount_capturable, self.amount_received, self.amount_refunded) >= 0, "amounts >= 0")
        invariant(
            self.amount_capturable + self.amount_received <= self.amount_authorized,
            "captured plus capturable never exceeds authorized",
        )
        invariant(self.amount_refunded <= self.amount_received, "refunded never exceeds received")

    def _begin(self, operation: str) -> None:
        if self.in_flight_attempt_id is not None:
            raise Conflict(
                "Another operation on this PaymentIntent is in progress; retry shortly.",
                code="payment_intent_operation_in_progress",
            )
        require_operation_allowed(operation, self.status)

    # -- confirm -------------------------------------------------------------------------------
    def attach_payment_method(self, payment_method_id: str, brand: str) -> None:
        self._begin("confirm")
        self.payment_method_id = payment_method_id
        self.card_brand = brand
        if self.status is Status.REQUIRES_PAYMENT_METHOD:
            self._move(Status.REQUIRES_CONFIRMATION)

    def begin_confirm(self, attempt_id: str) -> AttemptPlan:
        self._begin("confirm")
        if self.payment_method_id is None:
            raise InvalidRequest(
                "You must provide a payment_method to confirm this PaymentIntent.",
                code="payment_intent_missing_payment_method",
                param="payment_method",
            )
        self._move(Status.PROCESSING)
        self.in_flight_attempt_id = attempt_id
        self.last_payment_error = None
        operation = "sale" if self.capture_method == "automatic" else "authorize"
        return AttemptPlan(operation, self.amount)

    def complete_authorization(self, result: ProcessorResult, connector: str, now: dt.datetime) -> None:
        invariant(self.status is Status.PROCESSING, "an authorization completes a processing intent")
        self.in_flight_attempt_id = None
        if result.outcome is not Outcome.SUCCEEDED:
            self.last_payment_error = decline_error(result, self.payment_method_id)
            self._move(Status.REQUIRES_PAYMENT_METHOD)
            return
        self.connector, self.processor_reference = connector, result.processor_reference
        self.amount_authorized = self.amount
        if self.capture_method == "automatic":
            self.amount_received = self.amount
            self._move(Status.SUCCEEDED)
        else:
            self.amount_capturable = self.amount
            brand = self.card_brand or "unknown"
            self.authorization_expires_at = authorization_expires_at(brand, self.off_session, now)
            self._move(Status.REQUIRES_CAPTURE)
        self._check()

    def abandon_authorization(self, status_before: Status) -> None:
        """The processor never saw the call: go back to where confirm started."""
        self.in_flight_attempt_id = None
        self._move(status_before)

    # -- capture -------------------------------------------------------------------------------
    def begin_capture(self, attempt_id: str, amount: int | None, final: bool) -> AttemptPlan:
        self._begin("capture")
        amount = self.amount_capturable if amount is None else amount
        if amount > self.amount_capturable:
            raise InvalidRequest(
                f"The amount to capture ({amount}) exceeds the capturable amount ({self.amount_capturable}).",
                code="amount_too_large",
                param="amount_to_capture",
            )
        self.in_flight_attempt_id = attempt_id
        return AttemptPlan("capture", amount, final_capture=final or amount == self.amount_capturable)

    def complete_capture(self, result: ProcessorResult, amount: int, final: bool) -> None:
        self.in_flight_attempt_id = None
        if result.outcome is not Outcome.SUCCEEDED:
            return
        self.amount_received += amount
        self.amount_capturable = 0 if final else self.amount_capturable - amount
        self._move(Status.SUCCEEDED if self.amount_capturable == 0 else Status.REQUIRES_CAPTURE)
        self._check()

    # -- incremental authorization -------------------------------------------------------------
    def begin_increment(self, attempt_id: str, amount_total: int) -> AttemptPlan:
        self._begin("increment_authorization")
        if amount_total <= self.amount_authorized:
            raise InvalidRequest(
                f"The new amount ({amount_total}) must be greater than the authorized amount "
                f"({self.amount_authorized}).",
                code="amount_too_small",
                param="amount",
            )
        self.in_flight_attempt_id = attempt_id
        return AttemptPlan("increment_authorization", amount_total)

    def complete_increment(self, result: ProcessorResult, amount_total: int) -> None:
        self.in_flight_attempt_id = None
        if result.outcome is not Outcome.SUCCEEDED:
            return
        self.amount_capturable += amount_total - self.amount_authorized
        self.amount_authorized = amount_total
        self.amount = amount_total
        self._check()

    # -- cancel ----------------------------------------------------------------------------------
    def cancel_without_processor(self, reason: str | None, now: dt.datetime) -> bool:
        """Cancel an intent that holds no authorization. Returns False if the processor must void."""
        self._begin("cancel")
        if self.status is Status.REQUIRES_CAPTURE:
            if self.amount_received > 0:
                raise Conflict(
                    "This PaymentIntent has been partially captured; capture with final_capture "
                    "to release the remainder.",
                    code="payment_intent_partially_captured",
                )
            return False
        self._mark_canceled(reason, now)
        return True

    def expire_authorization(self, now: dt.datetime) -> None:
        """The issuer has let the authorization lapse: nothing more can be captured. An intent
        never captured is canceled (Stripe's `automatic`); a partly captured one succeeds."""
        invariant(self.status is Status.REQUIRES_CAPTURE and self.in_flight_attempt_id is None,
                  "only an idle authorization expires")
        if self.amount_received == 0:
            self._mark_canceled("automatic", now)
            return
        self.amount_capturable = 0
        self._move(Status.SUCCEEDED)
        self._check()

    def begin_void(self, attempt_id: str, reason: str | None) -> AttemptPlan:
        self.in_flight_attempt_id = attempt_id
        self.cancellation_reason = reason
        return AttemptPlan("void", self.amount_capturable)

    def complete_void(self, result: ProcessorResult, now: dt.datetime) -> None:
        self.in_flight_attempt_id = None
        if result.outcome is Outcome.SUCCEEDED:
            self._mark_canceled(self.cancellation_reason, now)

    def _mark_canceled(self, reason: str | None, now: dt.datetime) -> None:
        self.amount_capturable = 0
        self.cancellation_reason = reason
        self.canceled_at = now
        self._move(Status.CANCELED)
        self._check()

    # -- refunds ---------------------------------------------------------------------------------
    def begin_refund(self, attempt_id: str, amount: int | None) -> AttemptPlan:
        self._begin("refund")
        refundable = self.amount_received - self.amount_refunded
        amount = refundable if amount is None else amount
        if refundable == 0 or amount > refundable:
            raise InvalidRequest(
                f"The refund amount ({amount}) exceeds the refundable amount ({refundable}).",
                code="amount_too_large" if refundable else "charge_already_refunded",
                param="amount",
            )
        self.in_flight_attempt_id = attempt_id
        return AttemptPlan("refund", amount)

    def complete_refund(self, result: ProcessorResult, amount: int) -> None:
        self.in_flight_attempt_id = None
        if result.outcome is Outcome.SUCCEEDED:
            self.amount_refunded += amount
            self._check()

    def release_in_flight(self) -> None:
        """A non-authorization call the processor never saw: nothing changed but the marker."""
        self.in_flight_attempt_id = None


def decline_error(result: ProcessorResult, payment_method_id: str | None) -> dict[str, Any]:
    code = result.error_code or ("card_declined" if result.outcome is Outcome.DECLINED else "processing_error")
    return {
        "type": "card_error",
        "code": code,
        "decline_code": result.decline_code,
        "message": result.message or "The payment could not be processed.",
        "payment_method": payment_method_id,
    }
