"""Running a payment operation as crash-safe atomic phases, in as few statements as
possible (each statement costs ~90 µs of client CPU; see db/database.py).

Fast path, for a key never seen before:
  read      one query: the intent (and whether the Idempotency-Key exists).
  phase one one statement (db/statements.WriteBatch): insert the key, update the
            intent *if it is still at the version read*, insert the attempt, the
            refund and the events. Atomic: all of it, or nothing past the key.
  processor the call, outside any transaction, keyed by the attempt id.
  phase two one statement: update the intent if still at phase one's version,
            complete the attempt and the refund, add events, store the response
            on the key.
Slow path, for a key seen before or a phase two that lost its guard: a transaction
with row locks (`claim`, `FOR UPDATE`). A crash anywhere leaves either nothing, or
a key without an attempt (a retry re-runs phase one), or a pending attempt that a
retry with the key, or the sweeper, completes — never a second charge.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import structlog
from psycopg import AsyncConnection
from sqlalchemy import Table

from basketpay.audit import entries as audit
from basketpay.connectors.base import Card, Outcome, ProcessorResult
from basketpay.connectors.registry import ConnectorRegistry
from basketpay.db.database import Database
from basketpay.db.statements import WriteBatch
from basketpay.errors import BasketpayError, Conflict
from basketpay.idempotency import keys
from basketpay.idempotency.keys import KeyRequest, KeySeen, StoredResponse
from basketpay.idempotency.tables import idempotency_keys
from basketpay.invariant import InvariantViolation, invariant
from basketpay.ledger import chart
from basketpay.ledger.payment_postings import PaymentPostings
from basketpay.observability.metrics import PROCESSOR_LATENCY
from basketpay.outbox.tables import events as events_table
from basketpay.payments import repository
from basketpay.payments.domain import PaymentIntent
from basketpay.payments.resolution import (
    apply_locked,
    completion,
    count_outcome,
    pending_response,
)
from basketpay.payments.tables import payment_attempts, payment_intents, refunds
from basketpay.routing import bins
from basketpay.routing.declines import DeclineKind, classify
from basketpay.routing.health_model import Outcome as HealthOutcome
from basketpay.routing.model import AttemptContext, Decision
from basketpay.settings import Settings
from basketpay.vault.cards import card_brand
from basketpay.vault.service import Vault

SOFT = DeclineKind.SOFT

if TYPE_CHECKING:
    from basketpay.routing.experiments.service import Experiments
    from basketpay.routing.health import HealthBoard
    from basketpay.routing.router import Router

log = structlog.get_logger(__name__)


def cascade_target(routing: Decision | None, tried: list[str], result: ProcessorResult,
                   started: float) -> str | None:
    """The next processor for an authorization its last one soft-declined, while the routing
    decision's attempts and time budget last. Never after a hard decline, never after an
    unknown outcome (resolved first, by the sweeper), never a processor tried already or one
    whose breaker is open."""
    if routing is None or result.outcome is not Outcome.DECLINED or classify(result.decline_code) is not SOFT:
        return None
    if len(tried) >= routing.max_attempts or (time.monotonic() - started) * 1000 >= routing.budget_ms:
        return None
    return next((candidate.processor for candidate in routing.candidates
                 if candidate.processor not in tried and candidate.reason != "unavailable"), None)


def segment_of(card: Card, currency: str) -> str:
    """The success-rate segment of an authorization: as routing's AttemptContext.segment."""
    return f"{card_brand(card.number)}:{bins.facts(card.number[:8]).funding or 'any'}:{currency}"


def health_outcome(result: ProcessorResult) -> HealthOutcome:
    """An issuer's or processor's answer (approved or not) is health; no answer is an error."""
    if result.outcome is Outcome.SUCCEEDED:
        return HealthOutcome.APPROVED
    if result.outcome is Outcome.UNKNOWN:
        return HealthOutcome.TIMEOUT if result.message == "TimeoutError" else HealthOutcome.ERROR
    return HealthOutcome.DECLINED


@dataclass(frozen=True, slots=True)
class RequestContext:
    merchant_id: str
    idempotency_key: str | None
    method: str
    path: str
    body: Any

    def key_request(self) -> KeyRequest | None:
        if self.idempotency_key is None:
            return None
        digest = keys.request_digest(self.method, self.path, self.body)
        return KeyRequest(self.merchant_id, self.idempotency_key, self.method, self.path, digest)


@dataclass(slots=True)
class Plan:
    """What phase one decided: the rows to write, and either a finished response or an
    attempt to send to the processor (with the card, for an authorization)."""

    response: StoredResponse | None = None
    intent: PaymentIntent | None = None
    version_read: int | None = None  # None with an intent: a new intent, inserted
    inserts: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)
    # Rows of one table that must be one INSERT (a ledger entry's postings balance per statement).
    insert_many: list[tuple[Table, list[dict[str, Any]]]] = field(default_factory=list)
    # Updates that must find their row as it was read (e.g. a ledger hold): else a Conflict.
    guards: list[tuple[Table, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    attempt: SimpleNamespace | None = None
    refund: SimpleNamespace | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    card: Card | None = None
    routing: Decision | None = None  # an authorization's processors, in order: where a soft decline cascades
    routing_context: AttemptContext | None = None  # what the decision looked at

    @property
    def key_can_finish_at_once(self) -> bool:
        """Nothing after the key insert can fail: the key may carry the response already."""
        return self.response is not None and (self.intent is None or self.version_read is None)


PhaseOne = Callable[[AsyncConnection[Any], KeyRequest | None, bool], Awaitable[Plan]]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PhaseRunner:
    def __init__(self, database: Database, connectors: ConnectorRegistry, vault: Vault, settings: Settings) -> None:
        self.database = database
        self.connectors = connectors
        self.vault = vault
        self.settings = settings
        self.postings = PaymentPostings(settings.ledger_hot_account_buckets)
        self.router: Router | None = None  # routing (issue 6): set by the app when routing is on
        self.health: HealthBoard | None = None  # processor outcomes, for routing's breakers and success rates
        self.experiments: Experiments | None = None  # routing experiments: each answered payment is counted
        self._charted: set[tuple[str, str]] = set()  # (merchant, currency) whose chart exists

    async def ensure_chart(self, merchant_id: str, currency: str) -> None:
        """The merchant's ledger accounts in this currency exist before anything posts to them."""
        if (merchant_id, currency) in self._charted:
            return
        async with self.database.transaction() as connection:
            await chart.provision(connection, merchant_id, currency, self.connectors.names(),
                                  self.settings.ledger_hot_account_buckets)
        self._charted.add((merchant_id, currency))

    async def execute(self, context: RequestContext, phase_one: PhaseOne) -> StoredResponse:
        request = context.key_request()
        async with self.database.connection() as connection:
            try:
                plan = await phase_one(connection, request, False)
                written = await self._write_phase_one(connection, plan, request, claim_key=True)
            except KeySeen:
                written = False
            except BasketpayError:
                # The state moved on since this key's first request (a hold it posted, a payment it
                # captured): a retry must get that request's answer, not the error the state gives now.
                if request is None or not await keys.seen(connection, request):
                    raise
                written = False
        if not written:
            invariant(request is not None, "only a keyed request can find its key taken")
            assert request is not None
            return await self._slow_path(request, phase_one)
        if plan.attempt is None:
            assert plan.response is not None
            return plan.response
        assert request is not None and plan.intent is not None
        started = time.monotonic()
        result, latency_ms = await self.call_processor(plan.attempt, plan.card)
        target = cascade_target(plan.routing, [plan.attempt.connector], result, started)
        response = await self._phase_two(plan.intent, plan.attempt, plan.refund, result, latency_ms, request,
                                         finish_key=target is None)
        if target is not None:
            response = await self.cascade(plan, request, target, started)
        if plan.routing is not None and plan.routing.experiment_arm is not None:
            await self.count_in_experiment(plan, request, response, started)
        return response

    async def count_in_experiment(self, plan: Plan, request: KeyRequest, response: StoredResponse,
                                  started: float) -> None:
        """Count an experiment's payment once it has its answer (the payments service does)."""

    async def cascade(self, plan: Plan, request: KeyRequest, target: str, started: float) -> StoredResponse:
        """Send a soft-declined authorization on to `target` (the payments service does)."""
        raise NotImplementedError

    # -- phase one -----------------------------------------------------------------------------------
    def _phase_one_batch(self, plan: Plan, request: KeyRequest | None, claim_key: bool, now: dt.datetime) -> WriteBatch:
        batch = WriteBatch()
        if request is not None and claim_key:
            row = request.new_row(now, self.settings.idempotency_lease_seconds)
            if plan.key_can_finish_at_once:
                assert plan.response is not None
                row.update(keys.finished(plan.response, now))
            batch.guard_insert(idempotency_keys, row, ("merchant_id", "key"))
        if plan.intent is not None:
            intent = plan.intent
            if plan.version_read is None:
                batch.then_insert(payment_intents, repository.new_intent_values(intent))
            else:
                values = {**repository.intent_values(intent), "version": plan.version_read + 1, "updated_at": now}
                batch.guard_update(payment_intents, values, {"id": intent.id, "version": plan.version_read})
        for table, values, where in plan.guards:
            batch.guard_update(table, values, where)
        for table, values in plan.inserts:
            batch.then_insert(table, values)
        for table, rows in plan.insert_many:
            batch.then_insert_many(table, rows)
        if plan.refund is not None:
            batch.then_insert(refunds, vars(plan.refund))
        if plan.attempt is not None:
            batch.then_insert(payment_attempts, vars(plan.attempt))
        batch.then_insert_many(events_table, plan.events)
        return batch

    async def _write_phase_one(
        self, connection: AsyncConnection[Any], plan: Plan, request: KeyRequest | None, *, claim_key: bool
    ) -> bool:
        """False if the key was taken meanwhile; Conflict if the intent changed since it was read."""
        now = utc_now()
        if plan.intent is not None and plan.version_read is None:
            plan.intent.version, plan.intent.created_at = 1, plan.intent.created_at or now
        batch = self._phase_one_batch(plan, request, claim_key, now)
        statement, params = batch.statement()
        row = await (await connection.execute(statement, params)).fetchone()
        if row is None:
            raise InvariantViolation("a write batch always returns its counts")
        counts = list(row)
        if request is not None and claim_key and counts[0] == 0:
            return False
        if plan.guards and min(counts[len(counts) - len(plan.guards):]) == 0:
            if request is not None and claim_key:
                await keys.forget(connection, request)
            raise Conflict("The object was changed by another request; retry.", code="lock_timeout")
        if plan.intent is not None and plan.version_read is not None:
            if counts[-1 - len(plan.guards)] == 0:
                if request is not None and claim_key:
                    await keys.forget(connection, request)
                raise Conflict("The PaymentIntent was changed by another request; retry.", code="lock_timeout")
            plan.intent.version = plan.version_read + 1
        if request is not None and plan.response is not None and not (claim_key and plan.key_can_finish_at_once):
            await keys.update(connection, request, keys.finished(plan.response, now))
        return True

    # -- the processor call ---------------------------------------------------------------------------
    async def call_processor(self, attempt: Any, card: Card | None) -> tuple[ProcessorResult, int]:
        if card is None and attempt.operation in ("authorize", "sale"):
            card = await self._card_for(attempt)
        started_at = time.perf_counter()
        result = await self._send(attempt, card)
        elapsed = time.perf_counter() - started_at
        PROCESSOR_LATENCY.labels(attempt.connector, attempt.operation).observe(elapsed)
        if self.health is not None:  # routing's success rates and breakers
            segment = "modification" if card is None else segment_of(card, attempt.currency)
            self.health.record_soon(attempt.connector, segment, health_outcome(result), elapsed * 1000)
        if self.settings.fault_crash_after_processor_call:
            os._exit(70)  # test seam: the processor has answered, nothing is committed yet
        return result, int(elapsed * 1000)

    async def _card_for(self, attempt: Any) -> Card:
        async with self.database.connection() as connection:
            intent = await repository.load_intent(connection, attempt.merchant_id, attempt.payment_intent_id)
            assert intent.payment_method_id is not None
            row = await self.vault.load(connection, attempt.merchant_id, intent.payment_method_id)
            card = self.vault.open_card(row)
            await audit.record(connection, audit.entry(f"merchant:{attempt.merchant_id}", "vault.read", row.id))
        return card

    async def _send(self, attempt: Any, card: Card | None) -> ProcessorResult:
        connector = self.connectors.get(attempt.connector)
        key, reference = attempt.processor_idempotency_key, attempt.processor_reference
        calls: dict[str, Callable[[], Awaitable[ProcessorResult]]] = {
            "authorize": lambda: connector.authorize(
                idempotency_key=key, amount=attempt.amount, currency=attempt.currency, card=card,  # type: ignore[arg-type]
                capture=attempt.operation == "sale", merchant_reference=attempt.payment_intent_id,
            ),
            "capture": lambda: connector.capture(
                idempotency_key=key, processor_reference=reference, amount=attempt.amount, final=attempt.final_capture,
                currency=attempt.currency,
            ),
            "increment_authorization": lambda: connector.increment_authorization(
                idempotency_key=key, processor_reference=reference, amount_total=attempt.amount,
                currency=attempt.currency,
            ),
            "void": lambda: connector.void(idempotency_key=key, processor_reference=reference),
            "refund": lambda: connector.refund(
                idempotency_key=key, processor_reference=reference, amount=attempt.amount, currency=attempt.currency
            ),
        }
        call = calls["authorize" if attempt.operation == "sale" else attempt.operation]
        try:
            return await asyncio.wait_for(call(), self.settings.processor_timeout_ms / 1000)
        except Exception as error:
            log.warning("processor_outcome_unknown", attempt_id=attempt.id, error=type(error).__name__)
            return ProcessorResult(Outcome.UNKNOWN, message=type(error).__name__)

    # -- phase two -------------------------------------------------------------------------------------
    async def _phase_two(
        self, intent: PaymentIntent, attempt: Any, refund: Any, result: ProcessorResult, latency_ms: int,
        request: KeyRequest, *, finish_key: bool = True,
    ) -> StoredResponse:
        if result.outcome is Outcome.UNKNOWN:
            async with self.database.connection() as connection:
                await keys.update(connection, request, {"locked_until": None})
            return pending_response(intent, refund)
        await self.ensure_chart(intent.merchant_id, intent.currency)
        version, now = intent.version, utc_now()
        done = completion(intent, attempt, refund, result, latency_ms, now, self.postings)
        batch = WriteBatch().guard_update(
            payment_intents, {**repository.intent_values(intent), "version": version + 1, "updated_at": now},
            {"id": intent.id, "version": version},
        )
        batch.then_update(payment_attempts, done.attempt_values, {"id": attempt.id})
        if done.refund_values is not None:
            batch.then_update(refunds, done.refund_values, {"id": attempt.refund_id})
        batch.then_insert_many(events_table, done.events)
        if done.ledger is not None:
            done.ledger.add_to(batch, now)
        if finish_key:  # else a cascade carries on under the same key, which its last attempt finishes
            batch.then_update(idempotency_keys, keys.finished(done.response, now), request.where())
        statement, params = batch.statement()
        async with self.database.connection() as connection:
            row = await (await connection.execute(statement, params)).fetchone()
        applied = row is not None and row[0] == 1
        if not applied:  # resolved meanwhile (the sweeper): read what was decided
            return await self.phase_two_locked(attempt, result, latency_ms, finish_key=finish_key)
        count_outcome(attempt, result)
        return done.response

    async def phase_two_locked(self, sent: Any, result: ProcessorResult, latency_ms: int | None, *,
                               finish_key: bool = True) -> StoredResponse:
        await self.ensure_chart(sent.merchant_id, sent.currency)
        async with self.database.transaction() as connection:
            intent = await repository.load_intent(connection, sent.merchant_id, sent.payment_intent_id, for_update=True)
            attempt = await repository.load_attempt(connection, sent.id, for_update=True)
            if result.outcome is Outcome.UNKNOWN:
                await keys.release_attempt_lease(connection, attempt)
                refund = None
                if attempt.refund_id:
                    refund = await repository.load_refund(connection, attempt.merchant_id, attempt.refund_id)
                return pending_response(intent, refund)
            return await apply_locked(connection, attempt, intent, result, latency_ms, utc_now(), self.postings,
                                      finish_key=finish_key)

    # -- slow path --------------------------------------------------------------------------------------
    async def _slow_path(self, request: KeyRequest, phase_one: PhaseOne) -> StoredResponse:
        card = None
        async with self.database.transaction() as connection:
            claimed = await keys.claim(connection, request, self.settings.idempotency_lease_seconds)
            if claimed.replay is not None:
                return claimed.replay
            attempt = await repository.attempt_for_key(connection, request.merchant_id, request.key)
            if attempt is None:  # phase one never completed: run it now, under the key's lock
                plan = await phase_one(connection, None, True)
                await self._write_phase_one(connection, plan, request, claim_key=False)
                if plan.attempt is None:
                    assert plan.response is not None
                    return plan.response
                attempt, card = plan.attempt, plan.card
        result, latency_ms = await self.call_processor(attempt, card)
        return await self.phase_two_locked(attempt, result, latency_ms)
