"""The recovery sweeper: finds attempts left in flight (a crashed process, a timeout, a
lost reply) once their request's lease has run out, and resolves each by asking the
processor what happened to the call with that attempt's idempotency key. It never
retries on another processor and never guesses.

- The processor has a definitive answer: apply it exactly as the request would
  have, and store the response on the Idempotency-Key so a retry replays it.
- The processor never saw the call: undo phase one (the intent goes back to where
  it was) and drop the key, so a retry with it starts afresh.
- The processor does not know yet: leave it for the next sweep.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from basketpay.connectors.base import Outcome, ProcessorResult
from basketpay.db.uow import UnitOfWork
from basketpay.idempotency import keys
from basketpay.idempotency.tables import idempotency_keys
from basketpay.observability.metrics import SWEEPER_RESOLUTIONS
from basketpay.outbox.writer import event_row, record_events
from basketpay.payments import repository
from basketpay.payments.domain import PaymentIntent
from basketpay.payments.phases import PhaseRunner
from basketpay.payments.resolution import apply_result, restore_after_not_processed
from basketpay.payments.serializers import intent_json
from basketpay.payments.tables import payment_attempts

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class SweepReport:
    resolved: int = 0
    not_processed: int = 0
    still_unknown: int = 0
    skipped: int = 0
    keys_expired: int = 0


class Sweeper:
    def __init__(self, runner: PhaseRunner) -> None:
        self._runner = runner
        self._settings = runner.settings

    async def _stale_attempt_ids(self) -> list[str]:
        lease = func.make_interval(0, 0, 0, 0, 0, 0, self._settings.idempotency_lease_seconds)
        query = (
            select(payment_attempts.c.id)
            .select_from(
                payment_attempts.outerjoin(idempotency_keys, idempotency_keys.c.attempt_id == payment_attempts.c.id)
            )
            .where(
                payment_attempts.c.status == "pending",
                payment_attempts.c.created_at < func.now() - lease,
                or_(idempotency_keys.c.locked_until.is_(None), idempotency_keys.c.locked_until < func.now()),
            )
            .order_by(payment_attempts.c.created_at)
            .limit(self._settings.sweeper_batch_size_max)
        )
        async with self._runner.engine.connect() as connection:
            return list((await connection.scalars(query)).all())

    async def sweep_once(self) -> SweepReport:
        report = SweepReport()
        for attempt_id in await self._stale_attempt_ids():
            outcome = await self.resolve(attempt_id)
            setattr(report, outcome, getattr(report, outcome) + 1)
            SWEEPER_RESOLUTIONS.labels(outcome).inc()
        async with UnitOfWork(self._runner.engine) as uow:
            report.keys_expired = await keys.expire_keys(
                uow.connection, self._settings.idempotency_key_ttl_hours, self._settings.sweeper_batch_size_max
            )
            await uow.commit()
        return report

    async def resolve(self, attempt_id: str) -> str:
        async with self._runner.engine.connect() as connection:
            attempt = await repository.load_attempt(connection, attempt_id)
        connector = self._runner.connectors.get(attempt.connector)
        try:
            result = await connector.inquire(idempotency_key=attempt.processor_idempotency_key)
        except Exception as error:  # noqa: BLE001 - the processor is unreachable: try next sweep
            log.warning("sweeper_inquiry_failed", attempt_id=attempt_id, error=type(error).__name__)
            return "still_unknown"
        if result is not None and result.outcome is Outcome.UNKNOWN:
            return "still_unknown"
        async with UnitOfWork(self._runner.engine) as uow:
            outcome = await self._settle(uow.connection, attempt_id, result)
            await uow.commit()
        log.info("sweeper_resolved", attempt_id=attempt_id, outcome=outcome)
        return outcome

    async def _settle(self, connection: AsyncConnection, attempt_id: str, result: ProcessorResult | None) -> str:
        attempt = await repository.load_attempt(connection, attempt_id)
        intent = await repository.load_intent(connection, attempt.merchant_id, attempt.payment_intent_id, for_update=True)
        attempt = await repository.load_attempt(connection, attempt_id, for_update=True)
        lease_holder = await connection.scalar(
            select(idempotency_keys.c.id)
            .where(
                idempotency_keys.c.attempt_id == attempt_id,
                and_(idempotency_keys.c.locked_until.is_not(None), idempotency_keys.c.locked_until > func.now()),
            )
            .with_for_update()
        )
        if attempt.status != "pending" or lease_holder is not None:
            return "skipped"  # resolved meanwhile, or a retry with the key holds it now
        now = await connection.scalar(select(func.now()))
        if result is None:
            await self._not_processed(connection, attempt, intent)
            return "not_processed"
        response = await apply_result(connection, attempt, intent, result, None, now)
        await keys.finish_by_attempt(connection, attempt_id, response)
        return "resolved"

    async def _not_processed(self, connection: AsyncConnection, attempt: Row[Any], intent: PaymentIntent) -> None:
        restore_after_not_processed(intent, attempt)
        await repository.save_intent(connection, intent)
        await repository.complete_attempt(
            connection, attempt.id, status="failed", error_code="not_processed",
            error_message="The processor never received this attempt.",
        )
        if attempt.refund_id is not None:
            await repository.set_refund_status(connection, attempt.refund_id, "failed", "not_processed")
        await keys.forget_attempt(connection, attempt.id)
        event = event_row(intent.merchant_id, "payment_intent.attempt_abandoned", intent.id, intent_json(intent))
        await record_events(connection, [event])

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep_once()
            except Exception:  # noqa: BLE001 - the sweeper must outlive a bad sweep; it is logged
                log.exception("sweep_failed")
            try:
                await asyncio.wait_for(stop.wait(), self._settings.sweeper_interval_seconds)
            except TimeoutError:
                pass
