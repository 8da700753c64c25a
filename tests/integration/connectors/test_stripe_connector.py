"""The Stripe connector against the Stripe sandbox over real HTTP: authorizations, captures,
increments, voids, refunds, test-card declines, idempotent retries and `inquire`."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from basketpay.connectors.base import AttemptView, Card, Outcome, ProcessorResult, safe_message
from basketpay.connectors.stripe import StripeConnector, transformers
from basketpay.ids import new_id
from basketpay.server import free_port
from tests.helpers import DECLINE_CARDS
from tests.integration.sandboxes.stripe_server import running_sandbox, sdk_client

T = TypeVar("T")
TIMEOUT_MS = 5000
VISA = Card("4242424242424242", 12, 2040, "123")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_sandbox() as url:
        yield url


def run(base_url: str, scenario: Callable[[StripeConnector], Awaitable[T]], search_grace_seconds: float = 0) -> T:
    """One event loop per test: the SDK's httpx client belongs to the loop that first used it.
    No search grace by default: the sandbox's search sees a write at once."""
    async def main() -> T:
        connector = StripeConnector(base_url, "sk_test_123", TIMEOUT_MS, search_grace_seconds)
        try:
            return await scenario(connector)
        finally:
            await connector.aclose()
    return asyncio.run(main())


async def authorize(connector: StripeConnector, amount: int = 5000, card: Card = VISA, capture: bool = False,
                    key: str | None = None) -> ProcessorResult:
    key = key or new_id("att")
    return await connector.authorize(idempotency_key=key, amount=amount, currency="EUR", card=card,
                                     capture=capture, merchant_reference="pi_of_" + key)


def stripe_intent(base_url: str, reference: str | None) -> Any:
    assert reference is not None
    return sdk_client(base_url).v1.payment_intents.retrieve(reference)


def test_authorize_manual_capture_holds_the_amount(base_url: str) -> None:
    result = run(base_url, authorize)
    assert (result.outcome, result.amount) == (Outcome.SUCCEEDED, 5000)
    assert result.processor_reference is not None and result.processor_reference.startswith("pi_")
    intent = stripe_intent(base_url, result.processor_reference)
    assert (intent.status, intent.amount_capturable, intent.capture_method) == ("requires_capture", 5000, "manual")


def test_sale_captures_at_once(base_url: str) -> None:
    result = run(base_url, lambda connector: authorize(connector, 1200, capture=True))
    assert (result.outcome, result.amount) == (Outcome.SUCCEEDED, 1200)
    intent = stripe_intent(base_url, result.processor_reference)
    assert (intent.status, intent.amount_received) == ("succeeded", 1200)


def test_partial_capture_then_final_capture(base_url: str) -> None:
    async def scenario(connector: StripeConnector) -> tuple[ProcessorResult, ...]:
        reference = (await authorize(connector)).processor_reference or ""
        partial = await connector.capture(idempotency_key=new_id("att"), processor_reference=reference,
                                          amount=1000, final=False)
        final = await connector.capture(idempotency_key=new_id("att"), processor_reference=reference,
                                        amount=2500, final=True)
        return partial, final

    partial, final = run(base_url, scenario)
    assert (partial.outcome, partial.amount, final.outcome, final.amount) == (
        Outcome.SUCCEEDED, 1000, Outcome.SUCCEEDED, 2500)
    intent = stripe_intent(base_url, final.processor_reference)
    assert (intent.status, intent.amount_received, intent.amount_capturable) == ("succeeded", 3500, 0)


def test_increment_then_capture_the_new_total(base_url: str) -> None:
    async def scenario(connector: StripeConnector) -> tuple[ProcessorResult, ProcessorResult]:
        reference = (await authorize(connector)).processor_reference or ""
        increment = await connector.increment_authorization(
            idempotency_key=new_id("att"), processor_reference=reference, amount_total=7000)
        capture = await connector.capture(idempotency_key=new_id("att"), processor_reference=reference,
                                          amount=7000, final=True)
        return increment, capture

    increment, capture = run(base_url, scenario)
    assert (increment.outcome, increment.amount) == (Outcome.SUCCEEDED, 7000)
    assert (capture.outcome, capture.amount) == (Outcome.SUCCEEDED, 7000)
    assert stripe_intent(base_url, capture.processor_reference).amount_received == 7000


def test_void_cancels_the_authorization(base_url: str) -> None:
    async def scenario(connector: StripeConnector) -> ProcessorResult:
        reference = (await authorize(connector)).processor_reference or ""
        return await connector.void(idempotency_key=new_id("att"), processor_reference=reference)

    result = run(base_url, scenario)
    assert (result.outcome, result.amount) == (Outcome.SUCCEEDED, 5000)
    assert stripe_intent(base_url, result.processor_reference).status == "canceled"


def test_partial_refund_keeps_the_payment_intent_reference(base_url: str) -> None:
    async def scenario(connector: StripeConnector) -> tuple[str, ProcessorResult]:
        reference = (await authorize(connector, 3000, capture=True)).processor_reference or ""
        return reference, await connector.refund(idempotency_key=new_id("att"), processor_reference=reference,
                                                 amount=1000)

    reference, result = run(base_url, scenario)
    assert (result.outcome, result.processor_reference, result.amount) == (Outcome.SUCCEEDED, reference, 1000)
    too_much = run(base_url, lambda connector: connector.refund(
        idempotency_key=new_id("att"), processor_reference=reference, amount=2001))
    assert (too_much.outcome, too_much.error_code) == (Outcome.FAILED, "amount_too_large")  # 2000 are left


def test_capturing_a_voided_authorization_fails_with_stripes_code(base_url: str) -> None:
    async def scenario(connector: StripeConnector) -> ProcessorResult:
        reference = (await authorize(connector)).processor_reference or ""
        await connector.void(idempotency_key=new_id("att"), processor_reference=reference)
        return await connector.capture(idempotency_key=new_id("att"), processor_reference=reference,
                                       amount=100, final=True)

    result = run(base_url, scenario)
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "payment_intent_unexpected_state")


@pytest.mark.parametrize(("number", "error_code", "decline_code"), DECLINE_CARDS)
def test_test_cards_decline(base_url: str, number: str, error_code: str, decline_code: str) -> None:
    result = run(base_url, lambda connector: authorize(connector, card=Card(number, 12, 2040, "123")))
    assert (result.outcome, result.error_code, result.decline_code) == (Outcome.DECLINED, error_code, decline_code)
    assert result.message and number not in result.message


def test_same_idempotency_key_makes_one_payment_intent(base_url: str) -> None:
    key = new_id("att")

    async def scenario(connector: StripeConnector) -> tuple[ProcessorResult, ProcessorResult]:
        return await authorize(connector, key=key), await authorize(connector, key=key)

    first, second = run(base_url, scenario)
    assert first.outcome is Outcome.SUCCEEDED and first == second
    found = sdk_client(base_url).v1.payment_intents.search(
        params={"query": f"metadata['basketpay_attempt']:'{key}'"})
    assert [intent.id for intent in found.data] == [first.processor_reference]


def attempt(key: str, operation: str, amount: int, reference: str | None, final: bool = False,
            age_seconds: float = 120) -> AttemptView:
    created_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=age_seconds)
    return AttemptView(key, operation, amount, "EUR", reference, new_id("pi"), final, created_at)


def test_inquire_after_authorize_finds_it(base_url: str) -> None:
    key = new_id("att")

    async def scenario(connector: StripeConnector) -> tuple[ProcessorResult, ProcessorResult | None]:
        authorized = await authorize(connector, key=key)
        return authorized, await connector.inquire(attempt(key, "authorize", 5000, None))

    authorized, inquired = run(base_url, scenario)
    assert inquired == authorized and authorized.outcome is Outcome.SUCCEEDED


def test_inquire_after_a_decline_finds_the_decline(base_url: str) -> None:
    key = new_id("att")

    async def scenario(connector: StripeConnector) -> ProcessorResult | None:
        await authorize(connector, card=Card("4000000000009995", 12, 2040, None), key=key)
        return await connector.inquire(attempt(key, "authorize", 5000, None))

    inquired = run(base_url, scenario)
    assert inquired is not None
    assert (inquired.outcome, inquired.decline_code) == (Outcome.DECLINED, "insufficient_funds")


def test_inquire_for_a_key_never_sent_is_none(base_url: str) -> None:
    assert run(base_url, lambda connector: connector.inquire(attempt(new_id("att"), "sale", 100, None))) is None


def test_not_found_is_not_trusted_within_the_search_grace_period(base_url: str) -> None:
    young = attempt(new_id("att"), "authorize", 100, None, age_seconds=5)
    inquired = run(base_url, lambda connector: connector.inquire(young), search_grace_seconds=60)
    assert inquired is not None and inquired.outcome is Outcome.UNKNOWN  # the search may not show it yet
    old = attempt(young.processor_idempotency_key, "authorize", 100, None, age_seconds=61)
    assert run(base_url, lambda connector: connector.inquire(old), search_grace_seconds=60) is None


def test_cancel_unconfirmed_cancels_the_authorization_the_attempt_made(base_url: str) -> None:
    key = new_id("att")

    async def scenario(connector: StripeConnector) -> ProcessorResult:
        await authorize(connector, key=key)
        return await connector.cancel_unconfirmed(attempt(key, "authorize", 5000, None))

    cancelled = run(base_url, scenario)
    assert cancelled.outcome is Outcome.SUCCEEDED
    assert stripe_intent(base_url, cancelled.processor_reference).status == "canceled"


def test_cancel_unconfirmed_with_nothing_at_stripe_succeeds_once_the_search_is_settled(base_url: str) -> None:
    key = new_id("att")
    settled = run(base_url, lambda connector: connector.cancel_unconfirmed(attempt(key, "authorize", 5000, None)))
    assert settled.outcome is Outcome.SUCCEEDED
    young = attempt(key, "authorize", 5000, None, age_seconds=1)
    too_soon = run(base_url, lambda connector: connector.cancel_unconfirmed(young), search_grace_seconds=60)
    assert too_soon.outcome is Outcome.UNKNOWN


def test_inquire_for_a_capture_resends_without_capturing_twice(base_url: str) -> None:
    key = new_id("att")

    async def scenario(connector: StripeConnector) -> tuple[ProcessorResult, ProcessorResult | None]:
        reference = (await authorize(connector)).processor_reference or ""
        captured = await connector.capture(idempotency_key=key, processor_reference=reference, amount=2000,
                                           final=False)
        return captured, await connector.inquire(attempt(key, "capture", 2000, reference))

    captured, inquired = run(base_url, scenario)
    assert inquired == captured and captured.outcome is Outcome.SUCCEEDED
    intent = stripe_intent(base_url, captured.processor_reference)
    assert (intent.amount_received, intent.amount_capturable) == (2000, 3000)


def test_inquire_for_a_capture_never_sent_captures_once_now(base_url: str) -> None:
    async def scenario(connector: StripeConnector) -> ProcessorResult | None:
        reference = (await authorize(connector)).processor_reference or ""
        return await connector.inquire(attempt(new_id("att"), "capture", 5000, reference, final=True))

    inquired = run(base_url, scenario)
    assert inquired is not None and inquired.outcome is Outcome.SUCCEEDED
    assert stripe_intent(base_url, inquired.processor_reference).amount_received == 5000


def test_a_closed_port_is_unknown_not_failed() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = run(closed, authorize)
    assert result.outcome is Outcome.UNKNOWN
    inquired = run(closed, lambda connector: connector.inquire(attempt(new_id("att"), "authorize", 5000, None)))
    assert inquired is not None and inquired.outcome is Outcome.UNKNOWN


def test_a_processor_that_never_answers_is_unknown_within_the_timeout() -> None:
    with socket.socket() as listener:  # accepts connections (in the backlog) and never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"

        async def main() -> ProcessorResult:
            connector = StripeConnector(url, "sk_test_123", timeout_ms=300)
            try:
                return await authorize(connector)
            finally:
                await connector.aclose()

        started = time.monotonic()
        result = asyncio.run(main())
    assert result.outcome is Outcome.UNKNOWN
    assert time.monotonic() - started < 2


def test_the_card_number_reaches_no_log(base_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    declined = Card("4000000000009995", 12, 2040, "123")
    run(base_url, lambda connector: authorize(connector, card=declined))
    run(base_url, authorize)
    assert caplog.records, "the SDK logs at INFO and above still pass"
    assert not [record for record in caplog.records
                if VISA.number in record.getMessage() or declined.number in record.getMessage()]


def test_same_key_with_other_parameters_is_an_idempotency_error(base_url: str) -> None:
    key = new_id("att")

    async def scenario(connector: StripeConnector) -> ProcessorResult:
        await authorize(connector, 5000, key=key)
        return await authorize(connector, 6000, key=key)

    result = run(base_url, scenario)
    assert (result.outcome, result.error_code) == (Outcome.UNKNOWN, "idempotency_error")  # never "not done"


def test_a_wrong_api_key_fails_and_an_inquiry_with_it_is_unknown(base_url: str) -> None:
    async def scenario(connector: StripeConnector) -> tuple[ProcessorResult, ProcessorResult | None]:
        view = attempt(new_id("att"), "void", 0, "pi_whatever")
        refused = await connector.void(idempotency_key=view.processor_idempotency_key, processor_reference="pi_x")
        return refused, await connector.inquire(view)

    async def with_bad_key() -> tuple[ProcessorResult, ProcessorResult | None]:
        connector = StripeConnector(base_url, "sk_live_nope", TIMEOUT_MS)
        try:
            return await scenario(connector)
        finally:
            await connector.aclose()

    refused, inquired = asyncio.run(with_bad_key())
    assert (refused.outcome, refused.error_code) == (Outcome.FAILED, "processor_authentication_failed")
    assert inquired is not None and inquired.outcome is Outcome.UNKNOWN


@pytest.mark.parametrize("status", ["requires_action", "processing", "requires_confirmation", "something_new"])
def test_a_status_neither_success_nor_failure_is_unknown(status: str) -> None:
    intent = {"id": "pi_1", "status": status, "amount": 100, "amount_received": 0}
    assert transformers.authorization(intent, 100).outcome is Outcome.UNKNOWN
    assert transformers.capture(intent, 100, final=False).outcome is Outcome.UNKNOWN
    assert transformers.increment(intent, 100).outcome is Outcome.UNKNOWN
    assert transformers.void(intent).outcome is Outcome.UNKNOWN


def test_malformed_answers_are_unknown() -> None:
    assert transformers.authorization({"status": "succeeded", "amount": 100}, 100).outcome is Outcome.UNKNOWN
    assert transformers.authorization({"id": "pi_1", "status": "succeeded", "amount": "100"}, 100).outcome \
        is Outcome.UNKNOWN
    assert transformers.capture({"id": "pi_1", "status": "requires_capture", "amount_received": 0}, 100,
                                final=False).outcome is Outcome.UNKNOWN
    pending = {"status": "pending", "amount": 100, "payment_intent": "pi_1"}
    assert transformers.refund(pending, "pi_1", 100).outcome is Outcome.UNKNOWN
    failed = {**pending, "status": "failed"}
    assert transformers.refund(failed, "pi_1", 100).outcome is Outcome.FAILED


def test_messages_never_carry_a_card_number() -> None:
    assert safe_message("Invalid number 4242 4242 4242 4242 given") == "Invalid number [redacted]given"
