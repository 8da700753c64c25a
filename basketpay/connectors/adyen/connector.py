"""Adyen as a `Connector`. Stateless apart from the HTTP client: every call carries the
processor-side idempotency key as Adyen's Idempotency-Key and as the request's `reference`,
so a repeated call is answered from Adyen's record, and the AUTHORISATION webhook names
the attempt (its merchantReference) even when the /payments answer was lost.

Adyen confirms modifications only by webhook: capture, void, refund and increment return
UNKNOWN with the modification's pspReference, for the webhook handler to resolve. Adyen
wants a currency with every amount, and `Connector` does not pass one to modifications:
pass `currency=` (or set a default account currency), or the call is refused unsent.
"""

from __future__ import annotations

from typing import Any

import httpx

from basketpay.connectors.adyen import transformers
from basketpay.connectors.adyen.client import AdyenApi
from basketpay.connectors.base import AttemptView, Card, Outcome, ProcessorResult, unknown

_NO_ANSWER = (httpx.HTTPError, OSError, TimeoutError)
# A re-sent request rejected for these reasons says nothing about the original one.
_SAYS_NOTHING_OF_ORIGINAL = ("processor_authentication_failed",)  # and idempotency_error, UNKNOWN already
_AWAITING_AUTHORISATION = "awaiting AUTHORISATION notification"


def _payment_method(card: Card) -> dict[str, Any]:
    year = card.exp_year if card.exp_year >= 100 else 2000 + card.exp_year
    method: dict[str, Any] = {
        "type": "scheme", "number": card.number, "expiryMonth": f"{card.exp_month:02d}",
        "expiryYear": f"{year:04d}", "holderName": "basketpay",
    }
    if card.cvc is not None:
        method["cvc"] = card.cvc
    return method


def _capture_fields(capture: bool) -> dict[str, Any]:
    # PreAuth so that amountUpdates (incremental authorization) is allowed later.
    additional = {"authorisationType": "PreAuth"}
    if not capture:
        return {"additionalData": {**additional, "manualCapture": "true"}}
    return {"additionalData": additional, "captureDelayHours": 0}  # captured now, whatever the account default


class AdyenConnector:
    name = "adyen"

    def __init__(self, api_base: str, api_key: str, merchant_account: str, timeout_ms: int,
                 currency: str | None = None) -> None:
        self._api = AdyenApi(api_base, api_key, timeout_ms)
        self._merchant_account = merchant_account
        self._currency = currency.upper() if currency else None

    async def aclose(self) -> None:
        await self._api.close()

    async def _post(self, path: str, idempotency_key: str, body: dict[str, Any]) -> dict[str, Any] | ProcessorResult:
        """The decoded success body, or the result an error (or no answer) maps to."""
        try:
            answer = await self._api.post(path, idempotency_key, body)
        except _NO_ANSWER as error:
            return transformers.from_exception(error)
        if answer.status_code not in (200, 201):
            return transformers.from_error_status(answer.status_code, answer.body)
        if answer.body is None:
            return unknown(f"Adyen answered HTTP {answer.status_code} without a JSON object.")
        return answer.body

    async def authorize(
        self, *, idempotency_key: str, amount: int, currency: str, card: Card, capture: bool,
        merchant_reference: str,
    ) -> ProcessorResult:
        currency = currency.upper()
        body: dict[str, Any] = {
            "amount": {"value": amount, "currency": currency},
            "reference": idempotency_key,
            "merchantAccount": self._merchant_account,
            "paymentMethod": _payment_method(card),
            "shopperInteraction": "Ecommerce",
            "metadata": {"basketpay_payment_intent": merchant_reference},
            **_capture_fields(capture),
        }
        answer = await self._post("/payments", idempotency_key, body)
        if isinstance(answer, ProcessorResult):
            return answer
        return transformers.authorization(answer, amount, currency, idempotency_key)

    async def _modify(self, kind: str, idempotency_key: str, payment_reference: str, amount: int | None,
                      currency: str | None, **extra: str) -> ProcessorResult:
        body: dict[str, Any] = {"merchantAccount": self._merchant_account, "reference": idempotency_key, **extra}
        if amount is not None:
            currency = (currency or self._currency or "").upper()
            if not currency:
                return ProcessorResult(Outcome.FAILED, payment_reference, error_code="currency_required",
                                       message="Adyen needs the payment's currency for this modification.")
            body["amount"] = {"value": amount, "currency": currency}
        answer = await self._post(f"/payments/{payment_reference}/{kind}", idempotency_key, body)
        if isinstance(answer, ProcessorResult):
            return answer
        return transformers.modification(answer, kind, payment_reference)

    async def capture(
        self, *, idempotency_key: str, processor_reference: str, amount: int, final: bool,
        currency: str | None = None,
    ) -> ProcessorResult:
        # Adyen has no "final" flag on a capture: what is left of the authorization lapses.
        return await self._modify("captures", idempotency_key, processor_reference, amount, currency)

    async def increment_authorization(
        self, *, idempotency_key: str, processor_reference: str, amount_total: int, currency: str | None = None,
    ) -> ProcessorResult:
        return await self._modify("amountUpdates", idempotency_key, processor_reference, amount_total, currency,
                                  industryUsage="delayedCharge")

    async def void(self, *, idempotency_key: str, processor_reference: str) -> ProcessorResult:
        return await self._modify("cancels", idempotency_key, processor_reference, None, None)

    async def refund(
        self, *, idempotency_key: str, processor_reference: str, amount: int, currency: str | None = None,
    ) -> ProcessorResult:
        return await self._modify("refunds", idempotency_key, processor_reference, amount, currency)

    async def inquire(self, attempt: AttemptView) -> ProcessorResult | None:
        """Adyen has no lookup. An authorization cannot be re-sent (no CVC, and another body
        under the same key is an error), so it waits for its webhook; a modification is
        re-sent with its key, which Adyen answers from its record or runs now, once."""
        if attempt.operation in ("authorize", "sale"):
            return unknown(_AWAITING_AUTHORISATION, attempt.processor_reference)
        result = await self._resend(attempt)
        if result.outcome is Outcome.FAILED and result.error_code in _SAYS_NOTHING_OF_ORIGINAL:
            return unknown(f"The re-sent {attempt.operation} was refused ({result.error_code}).",
                                        attempt.processor_reference)
        return result

    async def cancel_unconfirmed(self, attempt: AttemptView) -> ProcessorResult:
        """Adyen's technical cancel: POST /cancels naming the payment by the reference basketpay
        gave it. Adyen cancels it now or, if the payment has not reached it yet, when it does
        (refunds it if it was captured), and confirms by a TECHNICAL_CANCEL notification;
        `received` is Adyen taking that on, which is all the sweeper needs."""
        key = f"{attempt.processor_idempotency_key}-cancel"
        body = {"merchantAccount": self._merchant_account, "paymentReference": attempt.processor_idempotency_key,
                "reference": key}
        answer = await self._post("/cancels", key, body)
        if isinstance(answer, ProcessorResult):
            return answer if answer.outcome is not Outcome.FAILED else unknown(f"refused: {answer.error_code}")
        return transformers.technical_cancel(answer, attempt.processor_idempotency_key)

    async def _resend(self, attempt: AttemptView) -> ProcessorResult:
        key, reference, currency = attempt.processor_idempotency_key, attempt.processor_reference, attempt.currency
        if reference is None:
            return unknown(f"A {attempt.operation} without a pspReference cannot be re-sent.")
        if attempt.operation == "capture":
            return await self.capture(idempotency_key=key, processor_reference=reference, amount=attempt.amount,
                                      final=attempt.final_capture, currency=currency)
        if attempt.operation == "increment_authorization":
            return await self.increment_authorization(idempotency_key=key, processor_reference=reference,
                                                      amount_total=attempt.amount, currency=currency)
        if attempt.operation == "void":
            return await self.void(idempotency_key=key, processor_reference=reference)
        if attempt.operation == "refund":
            return await self.refund(idempotency_key=key, processor_reference=reference, amount=attempt.amount,
                                     currency=currency)
        return unknown(f"Cannot inquire about a {attempt.operation!r}.", reference)
