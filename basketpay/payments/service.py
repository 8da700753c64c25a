"""The payment operations: phase one of each — what the domain decides and what gets
recorded before the processor is called — run through `PhaseRunner`."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import orjson
from psycopg import AsyncConnection

from basketpay.audit.entries import entry
from basketpay.audit.tables import audit_log
from basketpay.db.pagination import PageRequest, fetch_page
from basketpay.errors import InvalidRequest
from basketpay.idempotency import keys
from basketpay.idempotency.keys import KeyRequest, StoredResponse
from basketpay.ids import new_id
from basketpay.outbox.writer import event_row
from basketpay.payments import repository, schemas
from basketpay.payments.domain import AttemptPlan, PaymentIntent
from basketpay.payments.phases import PhaseRunner, Plan, RequestContext, cascade_target, utc_now
from basketpay.payments.serializers import intent_json, refund_json
from basketpay.payments.states import Status
from basketpay.payments.tables import payment_intents, refunds
from basketpay.routing import bins
from basketpay.routing.model import AttemptContext, Decision

IDEMPOTENCY_REQUIRED = "This request calls a processor and needs an Idempotency-Key header."


def _ok(body: dict[str, Any]) -> StoredResponse:
    return StoredResponse(200, orjson.dumps(body))


def _require_key(context: RequestContext) -> None:
    if context.idempotency_key is None:
        raise InvalidRequest(IDEMPOTENCY_REQUIRED, code="idempotency_key_missing", param="Idempotency-Key")


class PaymentService(PhaseRunner):
    # -- helpers shared by the operations -----------------------------------------------------------
    def _attempt(
        self, intent: PaymentIntent, plan: AttemptPlan, attempt_id: str, status_before: Status, key: str,
        refund_id: str | None = None, routed_to: str | None = None,
    ) -> SimpleNamespace:
        return SimpleNamespace(
            id=attempt_id, merchant_id=intent.merchant_id, payment_intent_id=intent.id, refund_id=refund_id,
            operation=plan.operation, status="pending", status_before=status_before.value, amount=plan.amount,
            currency=intent.currency, final_capture=plan.final_capture,
            connector=intent.connector or routed_to or self.connectors.default, idempotency_key=key,
            processor_idempotency_key=f"basketpay-{attempt_id}", processor_reference=intent.processor_reference,
            created_at=utc_now(),
        )

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

    async def _route(self, plan: Plan, intent: PaymentIntent, payment_method: Any,
                     connection: AsyncConnection[Any]) -> Decision | None:
        """Where an authorization goes: the routing decision, unless routing is off or the
        intent is bound to a processor already. The BIN's 8 digits come from the card in memory
        (the vault keeps 6): they tell funding and issuing country apart."""
        card = plan.card
        if self.router is None or intent.connector is not None or payment_method is None or card is None:
            return None
        known = bins.facts(card.number[:8])
        plan.routing_context = AttemptContext(
            intent.merchant_id, intent.amount, intent.currency, brand=payment_method.brand, bin=card.number[:8],
            issuing_country=known.issuing_country, funding=known.funding, customer=intent.customer, payment=intent.id)
        return await self.router.decide(plan.routing_context, connection)

    async def _confirm_plan(self, connection: AsyncConnection[Any], plan: Plan, intent: PaymentIntent,
                            payment_method: Any, key: str) -> Plan:
        plan.card = None if payment_method is None else self.vault.open_card(payment_method)
        decision = await self._route(plan, intent, payment_method, connection)
        status_before, attempt_id = intent.status, new_id("att")
        attempt_plan = intent.begin_confirm(attempt_id)
        plan.attempt = self._attempt(intent, attempt_plan, attempt_id, status_before, key,
                                     routed_to=None if decision is None else decision.processors[0])
        plan.routing = decision
        plan.inserts.append((audit_log, entry(f"merchant:{intent.merchant_id}", "vault.read", payment_method.id)))
        plan.events.append(event_row(intent.merchant_id, "payment_intent.processing", intent.id, intent_json(intent)))
        return plan

    async def _payment_method_for(self, connection: AsyncConnection[Any], intent: PaymentIntent, requested: str | None) -> Any:
        """Attach the requested payment method (if any); return the one to charge (if any)."""
        payment_method_id = requested or intent.payment_method_id
        if payment_method_id is None:
            return None
        payment_method = await self.vault.load(connection, intent.merchant_id, payment_method_id)
        if requested is not None:
            intent.attach_payment_method(payment_method.id, payment_method.brand)
        return payment_method

    async def cascade(self, plan: Plan, request: KeyRequest, target: str, started: float) -> StoredResponse:
        """A soft decline goes on to the next processor: a new attempt (its own processor-side
        idempotency key) under the same request key, until one is not soft-declined or the
        routing decision's attempts or time run out. The last attempt finishes the key."""
        assert plan.intent is not None and plan.attempt is not None
        tried = [plan.attempt.connector]
        while True:
            attempt, card = await self._cascade_attempt(plan.intent, request, target)
            if attempt is None:
                return await self._finish_cascade(plan.intent, request)
            tried.append(target)
            result, latency_ms = await self.call_processor(attempt, card)
            following = cascade_target(plan.routing, tried, result, started)
            response = await self.phase_two_locked(attempt, result, latency_ms, finish_key=following is None)
            if following is None:
                return response
            target = following

    async def count_in_experiment(self, plan: Plan, request: KeyRequest, response: StoredResponse,
                                  started: float) -> None:
        """An answered payment of a running experiment: authorized or declined (an unknown outcome
        is not an answer), its expected fee by the arm's fee model, its latency and its retries."""
        assert plan.routing is not None and plan.routing.experiment_arm is not None and self.experiments is not None
        body = orjson.loads(response.body)
        intent = body if response.status_code == 200 else body.get("error", {}).get("payment_intent")
        if response.status_code not in (200, 402) or intent is None:
            return
        experiment_id, arm_name = plan.routing.experiment_arm.split(":", 1)
        context = plan.routing_context
        assert context is not None
        experiment = await self.experiments.running(context.merchant_id)
        if experiment is None or experiment.id != experiment_id:
            return  # stopped meanwhile
        authorized = response.status_code == 200
        arm = next(arm for arm in experiment.arms if arm.name == arm_name)
        model = arm.config.fees.get(str(intent.get("connector")))
        fee = model.expected_fee(context) if authorized and model is not None else 0
        async with self.database.connection() as connection:
            attempts = (await (await connection.execute(
                "SELECT count(*) FROM payment_attempts WHERE merchant_id = %(m)s AND idempotency_key = %(k)s",
                {"m": request.merchant_id, "k": request.key})).fetchone())[0]  # type: ignore[index]
        await self.experiments.record(experiment, arm_name, authorized=authorized, amount=int(intent["amount"]),
                                      fee=fee, latency_ms=(time.monotonic() - started) * 1000, retries=attempts - 1)

    async def _cascade_attempt(self, declined: PaymentIntent, request: KeyRequest, target: str) -> tuple[Any, Any]:
        """Phase one of the next attempt, under the intent's lock; (None, None) if the intent is no
        longer waiting for a payment method (another request acted on it meanwhile)."""
        async with self.database.transaction() as connection:
            intent = await repository.load_intent(connection, declined.merchant_id, declined.id, for_update=True)
            if intent.status is not Status.REQUIRES_PAYMENT_METHOD or intent.payment_method_id is None:
                return None, None
            payment_method = await self.vault.load(connection, intent.merchant_id, intent.payment_method_id)
            plan = Plan(intent=intent, version_read=intent.version)
            status_before, attempt_id = intent.status, new_id("att")
            plan.attempt = self._attempt(intent, intent.begin_confirm(attempt_id), attempt_id, status_before,
                                         request.key, routed_to=target)
            plan.card = self.vault.open_card(payment_method)
            plan.inserts.append((audit_log, entry(f"merchant:{intent.merchant_id}", "vault.read", payment_method.id)))
            plan.events.append(event_row(intent.merchant_id, "payment_intent.processing", intent.id,
                                         intent_json(intent)))
            await self._write_phase_one(connection, plan, None, claim_key=False)
        return plan.attempt, plan.card

    async def _finish_cascade(self, intent: PaymentIntent, request: KeyRequest) -> StoredResponse:
        async with self.database.transaction() as connection:
            current = await repository.load_intent(connection, intent.merchant_id, intent.id)
            response = _ok(intent_json(current))
            await keys.update(connection, request, keys.finished(response, utc_now()))
        return response

    # -- operations ---------------------------------------------------------------------------------------
    async def create(self, context: RequestContext, params: schemas.PaymentIntentCreate) -> StoredResponse:
        self._check_amount(params.amount, "amount")
        self._check_metadata(params.metadata)
        if params.confirm:
            _require_key(context)

        async def phase_one(connection: AsyncConnection[Any], _: KeyRequest | None, __: bool) -> Plan:
            intent = PaymentIntent(
                id=new_id("pi"), merchant_id=context.merchant_id, amount=params.amount, currency=params.currency,
                capture_method=params.capture_method, status=Status.REQUIRES_PAYMENT_METHOD,
                customer=params.customer, description=params.description, metadata=params.metadata,
                off_session=params.off_session, created_at=utc_now(), version=1,
            )
            payment_method = await self._payment_method_for(connection, intent, params.payment_method)
            plan = Plan(intent=intent)
            plan.events.append(event_row(intent.merchant_id, "payment_intent.created", intent.id, intent_json(intent)))
            if params.confirm:
                assert context.idempotency_key is not None
                return await self._confirm_plan(connection, plan, intent, payment_method, context.idempotency_key)
            plan.response = _ok(intent_json(intent))
            return plan

        return await self.execute(context, phase_one)

    async def confirm(self, context: RequestContext, intent_id: str, params: schemas.PaymentIntentConfirm) -> StoredResponse:
        _require_key(context)
        assert context.idempotency_key is not None

        async def phase_one(connection: AsyncConnection[Any], request: KeyRequest | None, locked: bool) -> Plan:
            intent = await repository.load_intent_for_operation(connection, context.merchant_id, intent_id, request, locked)
            version = intent.version
            payment_method = await self._payment_method_for(connection, intent, params.payment_method)
            plan = Plan(intent=intent, version_read=version)
            return await self._confirm_plan(connection, plan, intent, payment_method,
                                            context.idempotency_key)  # type: ignore[arg-type]

        return await self.execute(context, phase_one)

    async def _simple_attempt(
        self, context: RequestContext, intent_id: str, begin: Any, refund_values: dict[str, Any] | None = None
    ) -> StoredResponse:
        """Phase one for capture, increment and refund: read, let the domain plan, record."""
        _require_key(context)
        key = context.idempotency_key
        assert key is not None

        async def phase_one(connection: AsyncConnection[Any], request: KeyRequest | None, locked: bool) -> Plan:
            intent = await repository.load_intent_for_operation(connection, context.merchant_id, intent_id, request, locked)
            plan = Plan(intent=intent, version_read=intent.version)
            status_before, attempt_id = intent.status, new_id("att")
            attempt_plan: AttemptPlan = begin(intent, attempt_id)
            refund_id = None
            if refund_values is not None:
                plan.refund = SimpleNamespace(
                    id=new_id("re"), merchant_id=intent.merchant_id, payment_intent_id=intent.id,
                    amount=attempt_plan.amount, currency=intent.currency, status="pending",
                    failure_reason=None, created_at=utc_now(), **refund_values,
                )
                refund_id = plan.refund.id
                plan.events.append(event_row(intent.merchant_id, "refund.created", refund_id, refund_json(plan.refund)))
            plan.attempt = self._attempt(intent, attempt_plan, attempt_id, status_before, key, refund_id)
            return plan

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
        key = context.idempotency_key
        assert key is not None

        async def phase_one(connection: AsyncConnection[Any], request: KeyRequest | None, locked: bool) -> Plan:
            intent = await repository.load_intent_for_operation(connection, context.merchant_id, intent_id, request, locked)
            plan = Plan(intent=intent, version_read=intent.version)
            if intent.cancel_without_processor(params.cancellation_reason, utc_now()):
                body = intent_json(intent)
                plan.events.append(event_row(intent.merchant_id, "payment_intent.canceled", intent.id, body))
                plan.response = _ok(body)
                return plan
            attempt_id = new_id("att")
            attempt_plan = intent.begin_void(attempt_id, params.cancellation_reason)
            plan.attempt = self._attempt(intent, attempt_plan, attempt_id, Status.REQUIRES_CAPTURE, key)
            return plan

        return await self.execute(context, phase_one)

    # -- reads ---------------------------------------------------------------------------------------------
    async def retrieve(self, merchant_id: str, intent_id: str) -> dict[str, Any]:
        async with self.database.connection() as connection:
            return intent_json(await repository.load_intent(connection, merchant_id, intent_id))

    async def list_intents(self, merchant_id: str, page: PageRequest) -> tuple[list[dict[str, Any]], bool]:
        async with self.database.connection() as connection:
            rows, has_more = await fetch_page(connection, payment_intents, merchant_id, page)
        return [intent_json(repository.intent_from_row(row)) for row in rows], has_more

    async def retrieve_refund(self, merchant_id: str, refund_id: str) -> dict[str, Any]:
        async with self.database.connection() as connection:
            return refund_json(await repository.load_refund(connection, merchant_id, refund_id))

    async def list_refunds(
        self, merchant_id: str, page: PageRequest, payment_intent: str | None
    ) -> tuple[list[dict[str, Any]], bool]:
        filters = {} if payment_intent is None else {"payment_intent_id": payment_intent}
        async with self.database.connection() as connection:
            rows, has_more = await fetch_page(connection, refunds, merchant_id, page, filters)
        return [refund_json(row) for row in rows], has_more
