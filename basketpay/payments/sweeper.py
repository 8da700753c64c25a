"""The recovery sweeper: finds attempts left in flight (a crashed process, a timeout, a
lost reply) once their request's lease has run out, and resolves each by asking the
processor what happened to the call with that attempt's idempotency key. It never
retries on another processor and never guesses.

- The processor has a definitive answer: apply it exactly as the request would
  have, and store the response on the Idempotency-Key so a retry replays it.
- The processor never saw the call: undo phase one (the intent goes back to where
  it was) and drop the key, so a retry with it starts afresh.
- The processor does not know yet: leave it for the next sweep, later each time.
- An authorization still unknown after `unconfirmed_authorization_cancel_after_seconds`
  (Adyen has no lookup: an authorisation that got a 500 before Adyen did anything has
  no notification coming): cancel it at the processor by its own reference, so it can
  never charge anyone, then fail the attempt; the payment can be confirmed again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

import structlog
from psycopg import AsyncConnection

from basketpay.connectors.base import AttemptView, Outcome, ProcessorResult
from basketpay.idempotency import keys
from basketpay.ledger.expiry import expire_holds
from basketpay.ledger.snapshots import snapshot_once
from basketpay.observability.metrics import SWEEPER_RESOLUTIONS
from basketpay.outbox.writer import event_row, record_events
from basketpay.payments import repository
from basketpay.payments.domain import PaymentIntent
from basketpay.payments.lapse import expire_authorizations
from basketpay.payments.phases import PhaseRunner, utc_now
from basketpay.payments.resolution import apply_locked, restore_after_not_processed
from basketpay.payments.serializers import intent_json

log = structlog.get_logger(__name__)

def attempt_view(attempt: Any) -> AttemptView:
    return AttemptView(
        processor_idempotency_key=attempt.processor_idempotency_key, operation=attempt.operation,
        amount=attempt.amount, currency=attempt.currency, processor_reference=attempt.processor_reference,
        merchant_reference=attempt.payment_intent_id, final_capture=attempt.final_capture,
        created_at=attempt.created_at,
    )


_STALE_ATTEMPTS = """
SELECT attempt.id FROM payment_attempts attempt
LEFT JOIN idempotency_keys k ON k.merchant_id = attempt.merchant_id AND k.key = attempt.idempotency_key
WHERE attempt.status = 'pending' AND attempt.created_at < now() - %(lease)s
  AND (k.locked_until IS NULL OR k.locked_until < now())
  AND (attempt.next_inquiry_at IS NULL OR attempt.next_inquiry_at <= now())
ORDER BY COALESCE(attempt.next_inquiry_at, attempt.created_at) LIMIT %(limit)s"""  # just asked: to the back
_BACK_OFF = """
UPDATE payment_attempts SET inquiries = inquiries + 1, next_inquiry_at = now() + %(delay)s
WHERE id = %(id)s AND status = 'pending'"""
BACKOFF_DOUBLINGS_MAX = 20  # 2**20 times the base is past any sensible maximum already


@dataclass(slots=True)
class SweepReport:
    resolved: int = 0
    not_processed: int = 0
    still_unknown: int = 0
    skipped: int = 0
    keys_expired: int = 0
    cancelled_unconfirmed: int = 0
    holds_expired: int = 0
    authorizations_expired: int = 0
    snapshots_written: int = 0


class Sweeper:
    def __init__(self, runner: PhaseRunner) -> None:
        self._runner = runner
        self._settings = runner.settings

    async def _stale_attempt_ids(self) -> list[str]:
        params = {"lease": dt.timedelta(seconds=self._settings.idempotency_lease_seconds),
                  "limit": self._settings.sweeper_batch_size_max}
        async with self._runner.database.connection() as connection:
            rows = await (await connection.execute(_STALE_ATTEMPTS, params)).fetchall()
        return [row.id for row in rows]

    async def sweep_once(self) -> SweepReport:
        report = SweepReport()
        for attempt_id in await self._stale_attempt_ids():
            outcome = await self.resolve(attempt_id)
            setattr(report, outcome, getattr(report, outcome) + 1)
            SWEEPER_RESOLUTIONS.labels(outcome).inc()
        async with self._runner.database.connection() as connection:
            report.keys_expired = await keys.expire_keys(
                connection, self._settings.idempotency_key_ttl_hours, self._settings.sweeper_batch_size_max
            )
        report.authorizations_expired = await expire_authorizations(
            self._runner.database, self._runner.postings, self._settings.sweeper_batch_size_max)
        report.holds_expired = await expire_holds(self._runner.database, self._settings.sweeper_batch_size_max)
        report.snapshots_written = await snapshot_once(self._runner.database, self._settings.ledger_snapshot_interval_seconds,
                                                       self._settings.ledger_snapshot_lag_seconds)
        return report

    async def resolve(self, attempt_id: str) -> str:
        async with self._runner.database.connection() as connection:
            attempt = await repository.load_attempt(connection, attempt_id)
        try:
            # Inside the try: an attempt for a connector this process lacks must not stop the sweep.
            connector = self._runner.connectors.get(attempt.connector)
            result = await connector.inquire(attempt_view(attempt))
        except Exception as error:
            log.warning("sweeper_inquiry_failed", attempt_id=attempt_id, error=type(error).__name__)
            result = ProcessorResult(Outcome.UNKNOWN)
        if result is not None and result.outcome is Outcome.UNKNOWN:
            if self._past_confirmation(attempt):
                return await self._cancel_unconfirmed(connector, attempt)
            await self._back_off(attempt)
            return "still_unknown"
        await self._runner.ensure_chart(attempt.merchant_id, attempt.currency)
        async with self._runner.database.transaction() as connection:
            outcome = await self._settle(connection, attempt, result)
        log.info("sweeper_resolved", attempt_id=attempt_id, outcome=outcome)
        return outcome

    def _past_confirmation(self, attempt: Any) -> bool:
        if attempt.operation not in ("authorize", "sale"):
            return False  # a modification's fate is always learned: it is re-sent under its key
        waited: dt.timedelta = utc_now() - attempt.created_at
        return waited.total_seconds() >= self._settings.unconfirmed_authorization_cancel_after_seconds

    async def _cancel_unconfirmed(self, connector: Any, attempt: Any) -> str:
        try:
            cancel = await connector.cancel_unconfirmed(attempt_view(attempt))
        except Exception as error:
            log.warning("sweeper_cancel_failed", attempt_id=attempt.id, error=type(error).__name__)
            cancel = ProcessorResult(Outcome.UNKNOWN)
        if cancel.outcome is not Outcome.SUCCEEDED:
            await self._back_off(attempt)
            return "still_unknown"
        failed = ProcessorResult(
            Outcome.FAILED, error_code="authorization_unconfirmed",
            message="The processor never confirmed this authorization; it was cancelled there. Confirm again.",
        )
        async with self._runner.database.transaction() as connection:
            outcome = await self._settle(connection, attempt, failed)
        log.info("sweeper_cancelled_unconfirmed", attempt_id=attempt.id, outcome=outcome)
        return "cancelled_unconfirmed" if outcome == "resolved" else outcome

    async def _back_off(self, attempt: Any) -> None:
        """Ask again later, twice as late each time (with jitter, so attempts that went
        unknown together do not come back together), never later than the maximum."""
        base, ceiling = self._settings.inquiry_backoff_base_seconds, self._settings.inquiry_backoff_max_seconds
        delay = min(base * 2 ** min(attempt.inquiries, BACKOFF_DOUBLINGS_MAX), ceiling) * random.uniform(0.8, 1.2)
        async with self._runner.database.connection() as connection:
            await connection.execute(_BACK_OFF, {"id": attempt.id, "delay": dt.timedelta(seconds=delay)})

    async def apply_answer(self, attempt_id: str, result: ProcessorResult) -> str:
        """A definitive answer the processor pushed (a notification): applied at once, lease
        or not: a request still holding the key only waits for an answer it did not get."""
        async with self._runner.database.connection() as connection:
            attempt = await repository.load_attempt(connection, attempt_id)
        await self._runner.ensure_chart(attempt.merchant_id, attempt.currency)
        async with self._runner.database.transaction() as connection:
            return await self._settle(connection, attempt, result, respect_lease=False)

    async def _settle(
        self, connection: AsyncConnection[Any], stale: Any, result: ProcessorResult | None, respect_lease: bool = True
    ) -> str:
        intent = await repository.load_intent(connection, stale.merchant_id, stale.payment_intent_id, for_update=True)
        attempt = await repository.load_attempt(connection, stale.id, for_update=True)
        if attempt.status != "pending" or (respect_lease and await keys.lease_held(connection, attempt)):
            return "skipped"  # resolved meanwhile, or a retry with the key holds it now
        if result is None:
            await self._not_processed(connection, attempt, intent)
            return "not_processed"
        await apply_locked(connection, attempt, intent, result, None, utc_now(), self._runner.postings)
        return "resolved"

    async def _not_processed(self, connection: AsyncConnection[Any], attempt: Any, intent: PaymentIntent) -> None:
        restore_after_not_processed(intent, attempt)
        await repository.save_intent(connection, intent)
        await repository.complete_attempt(
            connection, attempt.id, status="failed", error_code="not_processed",
            error_message="The processor never received this attempt.", completed_at=utc_now(),
        )
        if attempt.refund_id is not None:
            await repository.set_refund_status(connection, attempt.refund_id, "failed", "not_processed")
        await keys.forget_attempt(connection, attempt)
        event = event_row(intent.merchant_id, "payment_intent.attempt_abandoned", intent.id, intent_json(intent))
        await record_events(connection, [event])

    async def run_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sweep_once()
            except Exception:
                log.exception("sweep_failed")
            try:
                await asyncio.wait_for(stop.wait(), self._settings.sweeper_interval_seconds)
            except TimeoutError:
                pass
