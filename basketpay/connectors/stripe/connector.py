"""Stripe as a `Connector`. Stateless apart from the SDK client: every call carries the
processor-side idempotency key, so Stripe itself answers a repeated call with the
stored result, and `inquire` re-sends a modification with its key to learn its fate.

Stripe keeps idempotency keys for at least 24 hours: a re-send after that could be run
as a new request, so `inquire` is for the sweeper's minutes-scale recovery, not for
reconciliation days later.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import stripe

from basketpay.connectors.base import AttemptView, Card, Outcome, ProcessorResult, unknown
from basketpay.connectors.stripe import transformers
from basketpay.connectors.stripe.client import StripeApi

T = TypeVar("T")
logger = logging.getLogger(__name__)
_NO_ANSWER = (stripe.StripeError, TimeoutError, httpx.HTTPError, OSError)
# A re-sent request rejected for these reasons says nothing about the original one.
_SAYS_NOTHING_OF_ORIGINAL = ("processor_authentication_failed",)  # and idempotency_error, UNKNOWN already
_CANCELABLE = ("requires_payment_method", "requires_confirmation", "requires_action", "requires_capture")


def _card_data(card: Card) -> dict[str, Any]:
    data: dict[str, Any] = {"number": card.number, "exp_month": card.exp_month, "exp_year": card.exp_year}
    if card.cvc is not None:
        data["cvc"] = card.cvc
    return data


class StripeConnector:
    name = "stripe"

    def __init__(self, api_base: str, secret_key: str, timeout_ms: int, search_grace_seconds: float = 60.0) -> None:
        self._api = StripeApi(api_base, secret_key, timeout_ms)
        self._search_grace = dt.timedelta(seconds=search_grace_seconds)

    async def aclose(self) -> None:
        await self._api.close()

    @staticmethod
    async def _call(request: Awaitable[T], to_result: Callable[[T], ProcessorResult]) -> ProcessorResult:
        try:
            response = await request
        except _NO_ANSWER as error:
            return transformers.from_error(error)
        return to_result(response)

    async def authorize(
        self, *, idempotency_key: str, amount: int, currency: str, card: Card, capture: bool,
        merchant_reference: str,
    ) -> ProcessorResult:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency.lower(),
            "capture_method": "automatic" if capture else "manual",
            "confirm": True,
            "payment_method_data": {"type": "card", "card": _card_data(card)},
            # Asked for now, so that `increment_authorization` is possible later.
            "payment_method_options": {"card": {"request_incremental_authorization": "if_available"}},
            "metadata": {"basketpay_payment_intent": merchant_reference, "basketpay_attempt": idempotency_key},
        }
        request = self._api.create_and_confirm(idempotency_key, params)
        return await self._call(request, lambda intent: transformers.authorization(intent.to_dict(), amount))

    async def capture(
        self, *, idempotency_key: str, processor_reference: str, amount: int, final: bool,
        currency: str | None = None,  # unused: the authorization fixed it
    ) -> ProcessorResult:
        request = self._api.capture(idempotency_key, processor_reference, amount, final)
        return await self._call(request, lambda intent: transformers.capture(intent.to_dict(), amount, final))

    async def increment_authorization(
        self, *, idempotency_key: str, processor_reference: str, amount_total: int, currency: str | None = None
    ) -> ProcessorResult:
        request = self._api.increment(idempotency_key, processor_reference, amount_total)
        return await self._call(request, lambda intent: transformers.increment(intent.to_dict(), amount_total))

    async def void(self, *, idempotency_key: str, processor_reference: str) -> ProcessorResult:
        request = self._api.cancel(idempotency_key, processor_reference)
        return await self._call(request, lambda intent: transformers.void(intent.to_dict()))

    async def refund(
        self, *, idempotency_key: str, processor_reference: str, amount: int, currency: str | None = None
    ) -> ProcessorResult:
        request = self._api.refund(idempotency_key, processor_reference, amount)
        return await self._call(request, lambda found: transformers.refund(found.to_dict(), processor_reference, amount))

    async def inquire(self, attempt: AttemptView) -> ProcessorResult | None:
        if attempt.operation in ("authorize", "sale"):
            return await self._find_authorization(attempt)
        result = await self._resend(attempt)
        if result.outcome is Outcome.FAILED and result.error_code in _SAYS_NOTHING_OF_ORIGINAL:
            return unknown(f"The re-sent {attempt.operation} was refused ({result.error_code}).",
                                        attempt.processor_reference)
        return result

    async def _find_authorization(self, attempt: AttemptView) -> ProcessorResult | None:
        """Stripe has no lookup by idempotency key, so the attempt's key is searched for in
        the metadata. Stripe's search is eventually consistent (usually under a minute, up
        to an hour in an outage): "not found" is trusted (None) only for an attempt older
        than the search grace period, and is UNKNOWN before that."""
        found = await self._search(attempt)
        if isinstance(found, ProcessorResult):
            return found
        if not found:
            return None if self._search_settled(attempt) else unknown("Not found yet: Stripe's search may lag.")
        if len(found) > 1:  # one key creates one intent; two mean something else wrote the metadata
            return unknown(f"{len(found)} PaymentIntents carry this attempt's key.")
        return transformers.authorization(found[0].to_dict(), attempt.amount)

    async def _search(self, attempt: AttemptView) -> list[stripe.PaymentIntent] | ProcessorResult:
        try:
            return await self._api.search_by_attempt(attempt.processor_idempotency_key)
        except _NO_ANSWER as error:
            # A refused search says nothing of the attempt: UNKNOWN, whatever the error.
            logger.warning("stripe search for an attempt failed: %s", type(error).__name__)
            return unknown(f"The search failed ({type(error).__name__}).")

    def _search_settled(self, attempt: AttemptView) -> bool:
        return attempt.created_at is not None and dt.datetime.now(dt.UTC) - attempt.created_at >= self._search_grace

    async def cancel_unconfirmed(self, attempt: AttemptView) -> ProcessorResult:
        """Cancel the PaymentIntent this attempt created, if the search finds one still
        uncaptured. Not found (past the grace period) means there is nothing to cancel:
        Stripe answers a create synchronously, so no intent appears later under that key
        unless the same request is sent again, which basketpay never does once it gives up."""
        found = await self._search(attempt)
        if isinstance(found, ProcessorResult):
            return found
        if not found:
            if self._search_settled(attempt):
                return ProcessorResult(Outcome.SUCCEEDED, message="Stripe has no PaymentIntent for this attempt.")
            return unknown("Not found yet: Stripe's search may lag.")
        if len(found) > 1 or found[0].status not in _CANCELABLE:
            return unknown(f"The PaymentIntent cannot be canceled (status {found[0].status}).", found[0].id)
        return await self.void(idempotency_key=f"{attempt.processor_idempotency_key}-cancel",
                               processor_reference=found[0].id)

    async def _resend(self, attempt: AttemptView) -> ProcessorResult:
        """The same request with the same key: Stripe replays the stored answer if it ran it,
        or runs it now, once; either way the answer is definitive."""
        key, reference = attempt.processor_idempotency_key, attempt.processor_reference
        if reference is None:
            return unknown(f"A {attempt.operation} without a PaymentIntent id cannot be re-sent.")
        if attempt.operation == "capture":
            return await self.capture(idempotency_key=key, processor_reference=reference, amount=attempt.amount,
                                      final=attempt.final_capture)
        if attempt.operation == "increment_authorization":
            return await self.increment_authorization(idempotency_key=key, processor_reference=reference,
                                                      amount_total=attempt.amount)
        if attempt.operation == "void":
            return await self.void(idempotency_key=key, processor_reference=reference)
        if attempt.operation == "refund":
            return await self.refund(idempotency_key=key, processor_reference=reference, amount=attempt.amount)
        return unknown(f"Cannot inquire about a {attempt.operation!r}.", reference)
