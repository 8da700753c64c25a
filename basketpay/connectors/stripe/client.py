"""The Stripe SDK client and the calls the connector makes, each bounded by `timeout_ms`.

Nothing here reads a response: `transformers` does. The SDK logs every request body at
DEBUG level, and an authorization's body holds the raw card number, so this module drops
the SDK's DEBUG records and refuses to send card data while its console logging is on.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable
from typing import Any, TypeVar, cast

import httpx
import stripe
from stripe.params import PaymentIntentCreateParams

T = TypeVar("T")


class _DropDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_SDK_LOGGER = logging.getLogger("stripe")
if not any(isinstance(existing, _DropDebug) for existing in _SDK_LOGGER.filters):
    _SDK_LOGGER.addFilter(_DropDebug())


def _refuse_card_logging() -> None:
    if stripe.log == "debug" or os.environ.get("STRIPE_LOG") == "debug":
        # The SDK would print the request body, card number included, to stderr.
        raise RuntimeError("refusing to send card data while stripe debug logging is on")


class StripeApi:
    def __init__(self, api_base: str, secret_key: str, timeout_ms: int) -> None:
        self._timeout_seconds = timeout_ms / 1000
        self._http = stripe.HTTPXClient(timeout=httpx.Timeout(self._timeout_seconds))
        # No SDK retries: the bound on a call is `timeout_ms`; an UNKNOWN result is
        # resolved later by `inquire`, which re-sends with the same idempotency key.
        self._client = stripe.StripeClient(
            secret_key, base_addresses={"api": api_base}, http_client=self._http, max_network_retries=0
        )

    async def _bounded(self, call: Awaitable[T]) -> T:
        # httpx bounds each phase (connect, write, read); this bounds the whole call.
        async with asyncio.timeout(self._timeout_seconds):
            return await call

    async def create_and_confirm(self, idempotency_key: str, params: dict[str, Any]) -> stripe.PaymentIntent:
        _refuse_card_logging()
        # Raw card data (`payment_method_data[card][number]`) is not in the SDK's TypedDicts:
        # Stripe accepts it only from accounts allowed to send raw card numbers.
        typed = cast(PaymentIntentCreateParams, params)
        intents = self._client.v1.payment_intents
        return await self._bounded(intents.create_async(params=typed, options={"idempotency_key": idempotency_key}))

    async def capture(self, idempotency_key: str, intent_id: str, amount: int, final: bool) -> stripe.PaymentIntent:
        intents = self._client.v1.payment_intents
        params: stripe.params.PaymentIntentCaptureParams = {"amount_to_capture": amount, "final_capture": final}
        return await self._bounded(
            intents.capture_async(intent_id, params=params, options={"idempotency_key": idempotency_key})
        )

    async def increment(self, idempotency_key: str, intent_id: str, amount_total: int) -> stripe.PaymentIntent:
        intents = self._client.v1.payment_intents
        return await self._bounded(intents.increment_authorization_async(
            intent_id, params={"amount": amount_total}, options={"idempotency_key": idempotency_key}
        ))

    async def cancel(self, idempotency_key: str, intent_id: str) -> stripe.PaymentIntent:
        intents = self._client.v1.payment_intents
        return await self._bounded(intents.cancel_async(intent_id, options={"idempotency_key": idempotency_key}))

    async def refund(self, idempotency_key: str, intent_id: str, amount: int) -> stripe.Refund:
        refunds = self._client.v1.refunds
        return await self._bounded(refunds.create_async(
            params={"payment_intent": intent_id, "amount": amount}, options={"idempotency_key": idempotency_key}
        ))

    async def retrieve(self, intent_id: str) -> stripe.PaymentIntent:
        return await self._bounded(self._client.v1.payment_intents.retrieve_async(intent_id))

    async def search_by_attempt(self, idempotency_key: str) -> list[stripe.PaymentIntent]:
        if "'" in idempotency_key or "\\" in idempotency_key:  # it must not break out of the query
            raise ValueError("an idempotency key with quotes cannot be searched for")
        query = f"metadata['basketpay_attempt']:'{idempotency_key}'"
        found: stripe.SearchResultObject[stripe.PaymentIntent] = await self._bounded(
            self._client.v1.payment_intents.search_async(params={"query": query})
        )
        return list(found.data)

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]  # the SDK leaves it unannotated
