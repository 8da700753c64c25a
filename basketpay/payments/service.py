"""The payment operations: phase one of each (what the domain decides and what gets
recorded before the processor is called), run through `PhaseRunner`."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from basketpay.db.pagination import PageRequest, fetch_page
from basketpay.errors import InvalidRequest
from basketpay.idempotency.keys import StoredResponse
from basketpay.ids import new_id
from basketpay.outbox.writer import event_row, record_events
from basketpay.payments import repository, schemas
from basketpay.payments.domain import AttemptPlan, PaymentIntent
from basketpay.payments.phases import PhaseRunner, RequestContext, Started, utc_now
from basketpay.payments.serializers import intent_json, refund_json
from basketpay.payments.states import Status
from basketpay.payments.tables import payment_intents, refunds

IDEMPOTENCY_REQUIRED = "This request calls a processor and needs an Idempotency-Key header."


def _ok(body: dict[str, Any]) -> StoredResponse:
    return StoredResponse(200, orjson.dumps(body))


def _require_key(context: RequestContext) -> None:
    if context.idempotency_key is None:
        raise InvalidRequest(IDEMPOTENCY_REQUIRED, code="idempotency_key_missing", param="Idempotency-Key")


class PaymentService(PhaseRunner):
    # -- helpers shared by the operations -----------------------------------------------------------
    async def _start_attempt(
        self, connection: AsyncConnection, intent: PaymentIntent, plan: AttemptPlan, attempt_id: str,
        status_before: Status, refund_id: str | None = None,
    ) -> SimpleNamespace:
        values = dict(
            id=attempt_id, merchant_id=intent.merchant_id, payment_intent_id=intent.id,
            refund_id=refund_id, operation=plan.operation, status="pending",
            status_before=status_before.value, amount=plan.amount, currency=intent.currency,
            final_capture=plan.final_capture, connector=intent.connector or self.connectors.default,
            processor_idempotency_key=f"basketpay-{attempt_id}",
            processor_reference=intent.processor_reference,
        )
        await repository.insert_attempt(connection, **values)
        return SimpleNamespace(**values)

    def _check_amount(self, amount: int | None, param: str) -> None:
        if amount is not None and amount > self.settings.amount_minor_max:
            raise InvalidRequest(
                f"{param} must be at most {self.settings.amount_minor_max}.", code="amount_too_large", param=param
            )

    def _check_metadata(self, metadata: dict[str, str]) -> None:
        settings = self.settings
        if len(metadata) > settings.metadata_keys_max:
            raise InvalidRequest(f"metadata has more than {settings.metadata_keys_max} keys.", param="metadata")
        for name, value in metadata.items():
            if not name or len(name) > settings.metadata_key_length_max:
                raise InvalidRequest("A metadata key is empty or too long.", param=f"metadata[{name[:40]}]")
            if len(value) > settings.metadata_value_length_max:
                raise InvalidRequest("A metadata value is too long.", param=f"metadata[{name}]")

    async def _begin_confirm(
        self, connection: AsyncConnection, intent: PaymentIntent, payment_method: Row[Any] | None,
        events: list[dict[str, Any]], *, is_new: bool,
    ) -> Started:
        if payment_method is None and intent.payment_method_id is not None:
            payment_method = await self.vault.load(connection, intent.merchant_id, intent.payment_method_id)
        status_before, attempt_id = intent.status, new_id("att")
        plan = intent.begin_confirm(attempt_id)
        assert payment_method is not None  # begin_confirm refuses an intent without one
        if is_new:
            await repository.insert_intent(connection, intent)
            events.append(event_row(intent.merchant_id, "payment_intent.created", intent.id, intent_json(intent)))
        else:
            await repository.save_intent(connection, intent)
        attempt = await self._start_attempt(connection, intent, plan, attempt_id, status_before)
        events.append(event_row(intent.merchant_id, "payment_intent.processing", intent.id, intent_json(intent)))
        await record_events(connection, events)
        return Started(attempt=attempt, card=self.vault.open_card(payment_method))

    async def _attach(self, connection: AsyncConnection, intent: PaymentIntent, payment_method_id: str | None) -> Row[Any] | None:
        if payment_method_id is None:
            return None
        payment_method = await self.vault.load(connection, intent.merchant_id, payment_method_id)
        intent.attach_payment_method(payment_method.id, payment_method.brand)
        return payment_method

    # -- operations ---------------------------------------------------------------------------------------
    async def create(self, context: RequestContext, params: schemas.PaymentIntentCreate) -> StoredResponse:
        self._check_amount(params.amount, "amount")
        self._check_metadata(params.metadata)
        if params.confirm:
            _require_key(context)

        async def phase_one(connection: AsyncConnection) -> Started:
            intent = PaymentIntent(
                id=new_id("pi"), merchant_id=context.merchant_id, amount=params.amount,
                currency=params.currency, capture_method=params.capture_method,
                status=Status.REQUIRES_PAYMENT_METHOD, customer=params.customer,
                description=params.description, metadata=params.metadata, off_session=params.off_session,
            )
            payment_method = await self._attach(connection, intent, params.payment_method)
            if params.confirm:
                return await self._begin_confirm(connection, intent, payment_method, [], is_new=True)
            await repository.insert_intent(connection, intent)
            body = intent_json(intent)
            await record_events(connection, [event_row(intent.merchant_id, "payment_intent.created", intent.id, body)])
            return Started(response=_ok(body))

        return await self.execute(context, phase_one)

    async def confirm(self, context: RequestContext, intent_id: str, params: schemas.PaymentIntentConfirm) -> StoredResponse:
        _require_key(context)

        async def phase_one(connection: AsyncConnection) -> Started:
            intent = await repository.load_intent(connection, context.merchant_id, intent_id, for_update=True)
            payment_method = await self._attach(connection, intent, params.payment_method)
            return await self._begin_confirm(connection, intent, payment_method, [], is_new=False)

        return await self.execute(context, phase_one)

    async def _simple_attempt(
        self, context: RequestContext, intent_id: str, begin: Any, refund_values: dict[str, Any] | None = None
    ) -> StoredResponse:
        """Phase one for capture, increment and refund: lock, let the domain plan, record."""
        _require_key(context)

        async def phase_one(connection: AsyncConnection) -> Started:
            intent = await repository.load_intent(connection, context.merchant_id, intent_id, for_update=True)
            status_before, attempt_id = intent.status, new_id("att")
            plan: AttemptPlan = begin(intent, attempt_id)
            await repository.save_intent(connection, intent)
            refund_id = None
            events: list[dict[str, Any]] = []
            if refund_values is not None:
                refund = await repository.insert_refund(
                    connection, id=new_id("re"), merchant_id=intent.merchant_id, payment_intent_id=intent.id,
                    amount=plan.amount, currency=intent.currency, status="pending", **refund_values,
                )
                refund_id = refund.id
                events.append(event_row(intent.merchant_id, "refund.created", refund.id, refund_json(refund)))
            attempt = await self._start_attempt(connection, intent, plan, attempt_id, status_before, refund_id)
            await record_events(connection, events)
            return Started(attempt=attempt)

        return await self.execute(context, phase_one)

    async def capture(self, context: RequestContext, intent_id: str, params: schemas.PaymentIntentCapture) -> StoredResponse:
        self._check_amount(params.amount_to_capture, "amount_to_capture")
        return await self._simple_attempt(
            context, intent_id,
            lambda intent, attempt_id: intent.begin_capture(attempt_id, params.amount_to_capture, params.final_capture),
        )

    async def increment_authorization(
        self, context: RequestContext, intent_id: str, params: schemas.PaymentIntentIncrement
    ) -> StoredResponse:
        self._check_amount(params.amount, "amount")
        return await self._simple_attempt(
            context, intent_id, lambda intent, attempt_id: intent.begin_increment(attempt_id, params.amount)
        )

    async def refund(self, context: RequestContext, params: schemas.RefundCreate) -> StoredResponse:
        self._check_amount(params.amount, "amount")
        self._check_metadata(params.metadata)
        return await self._simple_attempt(
            context, params.payment_intent,
            lambda intent, attempt_id: intent.begin_refund(attempt_id, params.amount),
            refund_values={"reason": params.reason, "metadata": params.metadata},
        )

    async def cancel(self, context: RequestContext, intent_id: str, params: schemas.PaymentIntentCancel) -> StoredResponse:
        _require_key(context)

        async def phase_one(connection: AsyncConnection) -> Started:
            intent = await repository.load_intent(connection, context.merchant_id, intent_id, for_update=True)
            if intent.cancel_without_processor(params.cancellation_reason, utc_now()):
                await repository.save_intent(connection, intent)
                body = intent_json(intent)
                await record_events(connection, [event_row(intent.merchant_id, "payment_intent.canceled", intent.id, body)])
                return Started(response=_ok(body))
            attempt_id = new_id("att")
            plan = intent.begin_void(attempt_id, params.cancellation_reason)
            await repository.save_intent(connection, intent)
            attempt = await self._start_attempt(connection, intent, plan, attempt_id, Status.REQUIRES_CAPTURE)
            return Started(attempt=attempt)

        return await self.execute(context, phase_one)

    # -- reads ---------------------------------------------------------------------------------------------
    async def retrieve(self, merchant_id: str, intent_id: str) -> dict[str, Any]:
        async with self.engine.connect() as connection:
            return intent_json(await repository.load_intent(connection, merchant_id, intent_id))

    async def list_intents(self, merchant_id: str, page: PageRequest) -> tuple[list[dict[str, Any]], bool]:
        async with self.engine.connect() as connection:
            rows, has_more = await fetch_page(connection, payment_intents, merchant_id, page)
        return [intent_json(repository.intent_from_row(row)) for row in rows], has_more

    async def retrieve_refund(self, merchant_id: str, refund_id: str) -> dict[str, Any]:
        async with self.engine.connect() as connection:
            return refund_json(await repository.load_refund(connection, merchant_id, refund_id))

    async def list_refunds(
        self, merchant_id: str, page: PageRequest, payment_intent: str | None
    ) -> tuple[list[dict[str, Any]], bool]:
        filters = [] if payment_intent is None else [refunds.c.payment_intent_id == payment_intent]
        async with self.engine.connect() as connection:
            rows, has_more = await fetch_page(connection, refunds, merchant_id, page, filters)
        return [refund_json(row) for row in rows], has_more
