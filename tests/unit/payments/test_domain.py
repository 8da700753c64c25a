"""The PaymentIntent aggregate's money rules, including a property test over random
operation sequences: the invariants hold after every step, whatever the order."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basketpay.connectors.base import Outcome, ProcessorResult
from basketpay.errors import BasketpayError, Conflict, InvalidRequest
from basketpay.payments.domain import PaymentIntent
from basketpay.payments.states import Status

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
OK = ProcessorResult(Outcome.SUCCEEDED, "ch_1")
DECLINED = ProcessorResult(Outcome.DECLINED, None, 0, "card_declined", "generic_decline", "declined")


def authorized(amount: int = 10_000) -> PaymentIntent:
    intent = PaymentIntent("pi_1", "acct_1", amount, "usd", "manual", Status.REQUIRES_PAYMENT_METHOD)
    intent.attach_payment_method("pm_1", "visa")
    intent.begin_confirm("att_1")
    intent.complete_authorization(OK, "sandbox", NOW)
    return intent


def test_authorization_sets_capturable_and_expiry() -> None:
    intent = authorized()
    assert (intent.status, intent.amount_capturable) == (Status.REQUIRES_CAPTURE, 10_000)
    assert intent.authorization_expires_at == NOW + dt.timedelta(days=7)


def test_decline_returns_to_requires_payment_method_with_the_error() -> None:
    intent = PaymentIntent("pi_1", "acct_1", 500, "usd", "automatic", Status.REQUIRES_PAYMENT_METHOD)
    intent.attach_payment_method("pm_1", "visa")
    intent.begin_confirm("att_1")
    intent.complete_authorization(DECLINED, "sandbox", NOW)
    assert intent.status is Status.REQUIRES_PAYMENT_METHOD
    assert intent.last_payment_error is not None and intent.last_payment_error["decline_code"] == "generic_decline"
    assert intent.in_flight_attempt_id is None


def test_partial_captures_then_final_release() -> None:
    intent = authorized()
    plan = intent.begin_capture("att_2", 3000, final=False)
    intent.complete_capture(OK, plan.amount, plan.final_capture)
    assert (intent.amount_received, intent.amount_capturable, intent.status) == (3000, 7000, Status.REQUIRES_CAPTURE)
    plan = intent.begin_capture("att_3", 2000, final=True)
    intent.complete_capture(OK, plan.amount, plan.final_capture)
    assert (intent.amount_received, intent.amount_capturable, intent.status) == (5000, 0, Status.SUCCEEDED)
    assert intent.amount_released == 5000


def test_one_operation_at_a_time() -> None:
    intent = authorized()
    intent.begin_capture("att_2", 100, final=False)
    with pytest.raises(Conflict) as raised:
        intent.begin_capture("att_3", 100, final=False)
    assert raised.value.code == "payment_intent_operation_in_progress"


def test_capture_above_capturable_and_refund_above_received_are_refused() -> None:
    intent = authorized(1000)
    with pytest.raises(InvalidRequest):
        intent.begin_capture("att_2", 1001, final=True)
    with pytest.raises(InvalidRequest):
        intent.begin_refund("att_3", 1)


def test_cancel_after_a_partial_capture_is_refused() -> None:
    intent = authorized()
    plan = intent.begin_capture("att_2", 100, final=False)
    intent.complete_capture(OK, plan.amount, plan.final_capture)
    with pytest.raises(Conflict):
        intent.cancel_without_processor(None, NOW)


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["capture", "capture_final", "increment", "refund", "cancel", "decline"]),
        st.integers(min_value=1, max_value=15_000),
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(OPERATIONS)
def test_random_operation_sequences_keep_the_invariants(operations: list[tuple[str, int]]) -> None:
    intent = authorized()
    for index, (operation, amount) in enumerate(operations):
        attempt = f"att_{index}"
        result = DECLINED if operation == "decline" else OK
        try:
            if operation in ("capture", "capture_final", "decline"):
                plan = intent.begin_capture(attempt, amount, final=operation == "capture_final")
                intent.complete_capture(result, plan.amount, plan.final_capture)
            elif operation == "increment":
                plan = intent.begin_increment(attempt, intent.amount_authorized + amount)
                intent.complete_increment(result, plan.amount)
            elif operation == "refund":
                plan = intent.begin_refund(attempt, amount)
                intent.complete_refund(result, plan.amount)
            elif not intent.cancel_without_processor(None, NOW):
                intent.begin_void(attempt, None)
                intent.complete_void(result, NOW)
        except BasketpayError:
            pass  # refused operations must leave the intent as it was
        assert intent.in_flight_attempt_id is None
        assert 0 <= intent.amount_refunded <= intent.amount_received
        assert intent.amount_received + intent.amount_capturable <= intent.amount_authorized
        if intent.status in (Status.SUCCEEDED, Status.CANCELED):
            assert intent.amount_capturable == 0
