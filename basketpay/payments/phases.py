"""Running a payment operation as a crash-safe sequence of atomic phases.

Phase one (one transaction): claim the Idempotency-Key, lock the intent, let the
domain decide, record a pending attempt and move the key's recovery point to
`attempt_started`. Then the processor call, outside any transaction, with the
attempt id as processor-side idempotency key. Phase two (one transaction): apply
the answer and store the response on the key. A crash anywhere leaves either
nothing or a pending attempt that a retry with the same key, or the sweeper,
finishes without ever charging twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from basketpay.connectors.base import Card, Outcome, ProcessorResult
from basketpay.connectors.registry import ConnectorRegistry
from basketpay.db.uow import UnitOfWork
from basketpay.idempotency import keys
from basketpay.idempotency.keys import StoredResponse
from basketpay.invariant import invariant
from basketpay.observability.metrics import PROCESSOR_LATENCY
from basketpay.payments import repository
from basketpay.payments.resolution import apply_result, pending_response
from basketpay.settings import Settings
from basketpay.vault.service import Vault

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RequestContext:
    merchant_id: str
    idempotency_key: str | None
    method: str
    path: str
    body: Any


@dataclass(slots=True)
class Started:
    """What phase one produced: a finished response, or an attempt to send (a row, or
    the values just inserted, as attributes) with the card for an authorization."""

    response: StoredResponse | None = None
    attempt: Any = None
    card: Card | None = None


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


PhaseOne = Callable[[AsyncConnection], Awaitable[Started]]


class PhaseRunner:
    def __init__(self, engine: AsyncEngine, connectors: ConnectorRegistry, vault: Vault, settings: Settings) -> None:
        self.engine = engine
        self.connectors = connectors
        self.vault = vault
        self.settings = settings

    # -- the phases --------------------------------------------------------------------------------
    async def execute(self, context: RequestContext, phase_one: PhaseOne) -> StoredResponse:
        async with UnitOfWork(self.engine) as uow:
            key = None
            if context.idempotency_key is not None:
                digest = keys.request_digest(context.method, context.path, context.body)
                key = await keys.claim(
                    uow.connection, context.merchant_id, context.idempotency_key, context.method,
                    context.path, digest, self.settings.idempotency_lease_seconds,
                )
                if key.replay is not None:
                    return key.replay
            if key is None or key.recovery_point == keys.STARTED:
                started = await phase_one(uow.connection)
            else:  # resuming a request that got as far as the processor call
                assert key.attempt_id is not None
                started = Started(attempt=await repository.load_attempt(uow.connection, key.attempt_id))
            if started.response is not None:
                if key is not None:
                    await keys.finish(uow.connection, key.id, started.response)
                await uow.commit()
                return started.response
            invariant(key is not None and started.attempt is not None, "a processor call runs under a key")
            assert key is not None and started.attempt is not None
            if key.recovery_point == keys.STARTED:
                await keys.mark_attempt_started(uow.connection, key.id, started.attempt.id)
            await uow.commit()
        result, latency_ms = await self.call_processor(started.attempt, started.card)
        return await self._phase_two(started.attempt, result, latency_ms, key.id)

    async def call_processor(self, attempt: Any, card: Card | None) -> tuple[ProcessorResult, int]:
        if card is None and attempt.operation in ("authorize", "sale"):
            card = await self._card_for(attempt)
        started_at = time.perf_counter()
        result = await self._send(attempt, card)
        elapsed = time.perf_counter() - started_at
        PROCESSOR_LATENCY.labels(attempt.connector, attempt.operation).observe(elapsed)
        if self.settings.fault_crash_after_processor_call:
            os._exit(70)  # test seam: the processor has answered, nothing is committed yet
        return result, int(elapsed * 1000)

    async def _card_for(self, attempt: Any) -> Card:
        async with self.engine.connect() as connection:
            intent = await repository.load_intent(connection, attempt.merchant_id, attempt.payment_intent_id)
            assert intent.payment_method_id is not None
            row = await self.vault.load(connection, attempt.merchant_id, intent.payment_method_id)
        return self.vault.open_card(row)

    async def _send(self, attempt: Any, card: Card | None) -> ProcessorResult:
        connector = self.connectors.get(attempt.connector)
        key, reference = attempt.processor_idempotency_key, attempt.processor_reference
        calls: dict[str, Callable[[], Awaitable[ProcessorResult]]] = {
            "authorize": lambda: connector.authorize(
                idempotency_key=key, amount=attempt.amount, currency=attempt.currency, card=card,  # type: ignore[arg-type]
                capture=attempt.operation == "sale", merchant_reference=attempt.payment_intent_id,
            ),
            "capture": lambda: connector.capture(
                idempotency_key=key, processor_reference=reference, amount=attempt.amount,
                final=attempt.final_capture,
            ),
            "increment_authorization": lambda: connector.increment_authorization(
                idempotency_key=key, processor_reference=reference, amount_total=attempt.amount
            ),
            "void": lambda: connector.void(idempotency_key=key, processor_reference=reference),
            "refund": lambda: connector.refund(
                idempotency_key=key, processor_reference=reference, amount=attempt.amount
            ),
        }
        call = calls["authorize" if attempt.operation == "sale" else attempt.operation]
        try:
            return await asyncio.wait_for(call(), self.settings.processor_timeout_ms / 1000)
        except Exception as error:  # noqa: BLE001 - any failure to hear back is an unknown outcome
            log.warning("processor_outcome_unknown", attempt_id=attempt.id, error=type(error).__name__)
            return ProcessorResult(Outcome.UNKNOWN, message=type(error).__name__)

    async def _phase_two(self, sent: Any, result: ProcessorResult, latency_ms: int, key_id: int) -> StoredResponse:
        async with UnitOfWork(self.engine) as uow:
            connection = uow.connection
            intent = await repository.load_intent(connection, sent.merchant_id, sent.payment_intent_id, for_update=True)
            attempt = await repository.load_attempt(connection, sent.id, for_update=True)
            if result.outcome is Outcome.UNKNOWN:
                await keys.release_lease(connection, key_id)
                await uow.commit()
                refund = None
                if attempt.refund_id:
                    refund = await repository.load_refund(connection, attempt.merchant_id, attempt.refund_id)
                return pending_response(intent, refund)
            response = await apply_result(connection, attempt, intent, result, latency_ms, utc_now())
            await keys.finish(connection, key_id, response)
            await uow.commit()
            return response

