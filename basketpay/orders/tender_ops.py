"""What each kind of tender does at the processor or in the ledger: the card through the
payments core (so every card call is an attempt with its processor-side idempotency key,
recovered by the sweeper), SNAP EBT through its processor, credit and gift cards as
ledger holds.

Every call carries an idempotency key derived from the order and the step, so a workflow
step that runs again after a crash replays the calls it had made instead of making them
twice. A call whose outcome is not known yet raises `Retry`: the step runs again later.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

from basketpay.connectors.ebt.client import EbtClient, EbtDeclined, EbtError, EbtPayment, EbtUnavailable
from basketpay.errors import Conflict, InvalidRequest, ProcessorUnavailable
from basketpay.idempotency.keys import StoredResponse
from basketpay.ledger import chart
from basketpay.ledger.schemas import HoldCreate
from basketpay.ledger.service import LedgerService
from basketpay.payments import schemas as payment_schemas
from basketpay.payments.phases import RequestContext
from basketpay.payments.service import PaymentService

T = TypeVar("T")
KEY_PREFIX = "bp-order:"  # internal idempotency keys: one per order step (a merchant's own keys do not start so)


class Retry(ProcessorUnavailable):
    """The outcome is not known yet (processor unavailable, a call still in flight): try the step
    again (a workflow retries it; a request answers 503 and its client retries)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="processor_unavailable")


@dataclass(frozen=True, slots=True)
class CardResult:
    intent: dict[str, Any]
    declined: str | None = None  # the decline code when the processor declined

    @property
    def id(self) -> str:
        return str(self.intent["id"])


def order_key(order_id: str, *parts: object) -> str:
    return KEY_PREFIX + ":".join([order_id, *map(str, parts)])


def _context(merchant_id: str, key: str, path: str, body: BaseModel | None) -> RequestContext:
    return RequestContext(merchant_id, key, "POST", path, None if body is None else body.model_dump(mode="json"))


class Cards:
    """The card tender through the payments core, in process."""

    def __init__(self, payments: PaymentService) -> None:
        self.payments = payments

    async def _settled(self, merchant_id: str, response: StoredResponse) -> CardResult:
        body = orjson.loads(response.body)
        if response.status_code == 402:
            error = body["error"]
            return CardResult(error["payment_intent"], error.get("decline_code") or error.get("code") or "declined")
        if response.status_code not in (200, 202):  # 202: the processor's answer is not known yet
            raise Conflict(body["error"]["message"], code=body["error"].get("code") or "card_call_failed")
        if response.status_code == 202 or body["status"] == "processing":  # the processor's answer is not known yet: ask again later
            current = await self.payments.retrieve(merchant_id, body["id"])
            if current["status"] == "processing":
                raise Retry(f"payment intent {body['id']} is still processing")
            return CardResult(current)
        return CardResult(body)

    async def authorize(self, merchant_id: str, key: str, amount: int, currency: str, payment_method: str,
                        customer: str | None, order_id: str, off_session: bool) -> CardResult:
        params = payment_schemas.PaymentIntentCreate(
            amount=amount, currency=currency, capture_method="manual", payment_method=payment_method, confirm=True,
            customer=customer, off_session=off_session, metadata={"order": order_id})
        return await self._call(merchant_id, self.payments.create(
            _context(merchant_id, key, "/v1/payment_intents", params), params))

    async def charge(self, merchant_id: str, key: str, amount: int, currency: str, payment_method: str,
                     customer: str | None, order_id: str, description: str) -> CardResult:
        """A merchant-initiated sale (the tip): authorized and captured at once."""
        params = payment_schemas.PaymentIntentCreate(
            amount=amount, currency=currency, capture_method="automatic", payment_method=payment_method, confirm=True,
            customer=customer, off_session=True, description=description, metadata={"order": order_id})
        return await self._call(merchant_id, self.payments.create(
            _context(merchant_id, key, "/v1/payment_intents", params), params))

    async def increment(self, merchant_id: str, key: str, intent_id: str, total: int) -> CardResult:
        params = payment_schemas.PaymentIntentIncrement(amount=total)
        path = f"/v1/payment_intents/{intent_id}/increment_authorization"
        return await self._call(merchant_id, self.payments.increment_authorization(
            _context(merchant_id, key, path, params), intent_id, params))

    async def capture(self, merchant_id: str, key: str, intent_id: str, amount: int) -> CardResult:
        params = payment_schemas.PaymentIntentCapture(amount_to_capture=amount, final_capture=True)
        return await self._call(merchant_id, self.payments.capture(
            _context(merchant_id, key, f"/v1/payment_intents/{intent_id}/capture", params), intent_id, params))

    async def cancel(self, merchant_id: str, key: str, intent_id: str) -> CardResult:
        """Void the authorization; one already voided or captured (by another step) is left as it is."""
        current = await self.payments.retrieve(merchant_id, intent_id)
        if current["status"] in ("canceled", "succeeded"):
            return CardResult(current)
        params = payment_schemas.PaymentIntentCancel(cancellation_reason="abandoned")
        return await self._call(merchant_id, self.payments.cancel(
            _context(merchant_id, key, f"/v1/payment_intents/{intent_id}/cancel", params), intent_id, params))

    async def refund(self, merchant_id: str, key: str, intent_id: str, amount: int) -> None:
        params = payment_schemas.RefundCreate(payment_intent=intent_id, amount=amount, reason="requested_by_customer",
                                               metadata={})
        response = await self._guarded(self.payments.refund(_context(merchant_id, key, "/v1/refunds", params), params))
        body = orjson.loads(response.body)
        if response.status_code != 200 or body["status"] not in ("succeeded", "pending"):
            raise Retry(f"refund on {intent_id}: {body.get('status') or body.get('error')}")

    async def find(self, merchant_id: str, key: str) -> CardResult | None:
        """What a call made with this key did, without making it: None if it never ran."""
        async with self.payments.database.connection() as connection:
            row = await (await connection.execute(
                "SELECT response_status, response_body FROM idempotency_keys WHERE merchant_id = %(m)s AND key = %(k)s",
                {"m": merchant_id, "k": key})).fetchone()
        if row is None:
            return None
        if row.response_status is None:
            raise Retry(f"the call with key {key} has not finished")
        return await self._settled(merchant_id, StoredResponse(row.response_status, bytes(row.response_body)))

    async def _call(self, merchant_id: str, call: Any) -> CardResult:
        return await self._settled(merchant_id, await self._guarded(call))

    @staticmethod
    async def _guarded(call: Any) -> StoredResponse:
        try:
            response: StoredResponse = await call
        except Conflict as error:  # the same key still running elsewhere, or a concurrent change: later
            raise Retry(str(error)) from error
        return response


class Ebt:
    """SNAP EBT through its processor. Its authorization needs the customer's PIN, so it
    happens while the checkout request is in memory; later calls need none."""

    def __init__(self, client: EbtClient | None) -> None:
        self.client = client

    def _require(self) -> EbtClient:
        if self.client is None:
            raise InvalidRequest("SNAP EBT is not configured on this basketpay (BASKETPAY_EBT_API_BASE).",
                                 code="ebt_not_configured", param="tenders")
        return self.client

    async def balance(self, payment_method: str, pin_token: str) -> int:
        return await self._guarded(self._require().balance(payment_method, pin_token))

    async def authorize(self, key: str, payment_method: str, amount: int, pin_token: str,
                        reference: str) -> EbtPayment:
        return await self._guarded(self._require().authorize(
            idempotency_key=key, payment_method=payment_method, amount=amount, pin_token=pin_token,
            reference=reference))

    async def find(self, reference: str) -> EbtPayment | None:
        return await self._guarded(self._require().find_by_reference(reference))

    async def capture(self, key: str, payment_id: str, amount: int) -> EbtPayment:
        return await self._guarded(self._require().capture(idempotency_key=key, payment_id=payment_id, amount=amount))

    async def cancel(self, key: str, payment_id: str) -> EbtPayment:
        return await self._guarded(self._require().cancel(idempotency_key=key, payment_id=payment_id))

    async def refund(self, key: str, payment_id: str, amount: int) -> EbtPayment:
        return await self._guarded(self._require().refund(idempotency_key=key, payment_id=payment_id, amount=amount))

    @staticmethod
    async def _guarded(call: Awaitable[T]) -> T:
        try:
            return await call
        except EbtDeclined:
            raise
        except EbtUnavailable as error:
            raise Retry(f"EBT processor: {error}") from error
        except EbtError as error:
            if error.code in ("idempotency_in_progress", "rate_limited"):
                raise Retry(f"EBT processor: {error}") from error
            raise


class StoredValueTenders:
    """Credit and gift cards: a ledger hold from the tender's account to customer receivables,
    posted at delivery; refunds credit the account back."""

    def __init__(self, ledger: LedgerService) -> None:
        self.ledger = ledger

    async def hold(self, merchant_id: str, key: str, account: str, currency: str, amount: int,
                   order_id: str) -> str:
        params = HoldCreate(debit_account=account, amount=amount, object_id=order_id,
                            credit_account=chart.account_id(merchant_id, chart.CUSTOMER_RECEIVABLES, currency),
                            description="Held for an order")
        body = _ok(await _ledger_call(self.ledger.create_hold(_context(merchant_id, key, "/v1/ledger/holds", params),
                                                              params)))
        return str(body["id"])

    async def settle(self, merchant_id: str, key: str, hold_id: str, amount: int) -> None:
        """Post `amount` of the hold and release the rest (0: release it all)."""
        path = f"/v1/ledger/holds/{hold_id}/post"
        _ok(await _ledger_call(self.ledger.settle_hold(_context(merchant_id, key, path, None), hold_id, amount, True)))


async def _ledger_call(call: Any) -> StoredResponse:
    try:
        response: StoredResponse = await call
    except Conflict as error:
        if error.code == "balance_insufficient":
            raise
        raise Retry(str(error)) from error
    return response


def _ok(response: StoredResponse) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(response.body)
    if response.status_code != 200:
        raise Conflict(body["error"]["message"], code=body["error"].get("code") or "ledger_call_failed")
    return body
