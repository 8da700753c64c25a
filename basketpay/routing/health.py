"""Processor health for routing: success rates per (processor, segment) for the bandit, and a
circuit breaker per processor. A routing decision must take well under 2 ms, so it never
waits on Redis: it reads a `HealthSnapshot`, an immutable local copy that a background
refresher renews from the shared store. Only the rare probe of a half-open breaker is a
store round trip, because the probe budget must be shared exactly between processes.

How a router uses it::

    snapshot = board.snapshot()
    if snapshot.state(name) is BreakerState.HALF_OPEN:
        usable = snapshot.allows(name) and await board.try_acquire_probe(name)
    else:
        usable = snapshot.allows(name)
    ...
    await board.record(name, context.segment, Outcome.DECLINED, latency_ms=182.0)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace

import structlog

from basketpay.invariant import invariant
from basketpay.routing import metrics
from basketpay.routing.health_model import EMPTY_VIEW, BreakerState, BreakerStep, HealthPolicy, Outcome, check_name
from basketpay.routing.health_redis import DEFAULT_KEY_PREFIX, RedisHealthStore
from basketpay.routing.health_snapshot import Clock, HealthSnapshot
from basketpay.routing.health_store import HealthStore, HealthStoreUnavailable, InProcessHealthStore, Recorded

__all__ = [
    "BreakerState",
    "HealthBoard",
    "HealthPolicy",
    "HealthSnapshot",
    "HealthStoreUnavailable",
    "Outcome",
    "open_health_store",
]

log = structlog.get_logger(__name__)

# Redis being away fails every record; one warning per interval says so, the metric counts them all.
STORE_FAILURE_LOG_INTERVAL_SECONDS = 10.0
# How long outcomes gather before one round trip writes them (shared store): each round trip
# costs the process ~0.3 ms of CPU whatever it carries; other processes see the outcomes at
# their next refresh (every 0.5 s by default) anyway. A processor failure (error, timeout) is
# written at once: the breaker must open before the next payments go to a dead processor.
FLUSH_DELAY_SECONDS = 0.1
FLUSH_BATCH_MAX = 500


def open_health_store(redis_url: str | None, policy: HealthPolicy, key_prefix: str = DEFAULT_KEY_PREFIX) -> HealthStore:
    """Redis when one is configured (`Settings.redis_url`), so all processes share health;
    otherwise this process keeps its own."""
    if redis_url is None:
        return InProcessHealthStore(policy)
    return RedisHealthStore.from_url(redis_url, policy, key_prefix)


class HealthBoard:
    """One per process: writes outcomes through to the store and keeps the snapshot routing
    reads. With the in-process store the snapshot is renewed on every write, so it is always
    current; with Redis, this process's own breaker changes show at once and other
    processes' at the next `refresh()`."""

    def __init__(self, store: HealthStore, policy: HealthPolicy, clock: Clock = time.time) -> None:
        self._store = store
        self._clock = clock
        self._snapshot = HealthSnapshot(EMPTY_VIEW, policy, clock)
        self._processors: set[str] = set()  # whose breaker state gauge this process publishes
        self._failure_logged_at: float | None = None
        self._pending: list[Recorded] = []  # outcomes record_soon() has not written yet
        self._flusher: asyncio.Task[None] | None = None
        self._urgent = asyncio.Event()  # a processor failure is pending: write now, not in FLUSH_DELAY_SECONDS

    def snapshot(self) -> HealthSnapshot:
        return self._snapshot

    async def close(self) -> None:
        if self._flusher is not None:
            await self._flusher  # what the payments reported is written before the store goes
        await self._store.close()

    async def record(self, processor: str, segment: str, outcome: Outcome, latency_ms: float) -> None:
        """Never raises for the store: a payment's outcome stands whether or not health heard of it."""
        check_name(processor)
        check_name(segment)
        invariant(latency_ms >= 0, "latency_ms must not be negative")
        metrics.ATTEMPT_LATENCY.labels(processor, outcome.value).observe(latency_ms / 1000)
        try:
            step = await self._store.record(processor, segment, outcome, self._clock())
        except HealthStoreUnavailable as error:
            self._store_failed("record", error)
            return
        await self._apply(processor, step)

    def record_soon(self, processor: str, segment: str, outcome: Outcome, latency_ms: float) -> None:
        """For the payment path: the outcome is written by a task, batched with others (one round
        trip per batch to a shared store, within FLUSH_DELAY_SECONDS), so no payment waits on it."""
        check_name(processor)
        check_name(segment)
        metrics.ATTEMPT_LATENCY.labels(processor, outcome.value).observe(latency_ms / 1000)
        self._pending.append((processor, segment, outcome, self._clock()))
        if outcome.is_processor_failure:
            self._urgent.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        if self._store.shared and not self._urgent.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._urgent.wait(), timeout=FLUSH_DELAY_SECONDS)
        else:
            await asyncio.sleep(0)
        self._urgent.clear()
        while self._pending:
            batch, self._pending = self._pending[:FLUSH_BATCH_MAX], self._pending[FLUSH_BATCH_MAX:]
            try:
                steps = await self._store.record_many(batch)
            except HealthStoreUnavailable as error:
                self._store_failed("record", error)
                continue
            await self._apply_all([(processor, step) for (processor, *_), step in zip(batch, steps, strict=True)])

    async def try_acquire_probe(self, processor: str) -> bool:
        """Whether a call to this processor may go now: always when closed, never when open, and
        when half-open only for the first `probes_max` askers across all processes. No probe
        when the store is away: an unhealthy processor stays unused rather than flooded."""
        check_name(processor)
        try:
            step = await self._store.try_acquire_probe(processor, self._clock())
        except HealthStoreUnavailable as error:
            self._store_failed("probe", error)
            return False
        if step.present.state is not BreakerState.CLOSED:
            metrics.BREAKER_PROBES.labels(processor, str(step.granted).lower()).inc()
        await self._apply(processor, step)
        return step.granted

    async def refresh(self) -> None:
        """Pulls the shared view into the snapshot. Raises `HealthStoreUnavailable`, keeping
        the old snapshot."""
        view = await self._store.read(self._clock())
        self._snapshot = replace(self._snapshot, view=view)
        self._publish_states()

    async def run_refresher(self, stop: asyncio.Event, interval_seconds: float) -> None:
        """Refreshes every `interval_seconds` until `stop` is set; a failed refresh keeps the
        last snapshot and is tried again at the next interval."""
        invariant(interval_seconds > 0, "interval_seconds must be positive")
        while not stop.is_set():
            try:
                await self.refresh()
            except HealthStoreUnavailable as error:
                self._store_failed("refresh", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_seconds)

    async def _apply(self, processor: str, step: BreakerStep) -> None:
        await self._apply_all([(processor, step)])

    async def _apply_all(self, steps: list[tuple[str, BreakerStep]]) -> None:
        """Announces each transition, then renews the snapshot once for the lot (a batch of
        outcomes costs one renewal, not one each)."""
        for processor, step in steps:
            self._processors.add(processor)
            for old, new in step.transitions:
                _announce_transition(processor, old, new)
        if not self._store.shared:
            await self.refresh()
            return
        snapshot = self._snapshot
        for processor, step in steps:
            known = snapshot.view.breakers.get(processor)
            if step.after != known and not (known is None and step.after.state is BreakerState.CLOSED):
                snapshot = snapshot.with_breaker(processor, step.after)
        self._snapshot = snapshot
        self._publish_states()

    def _publish_states(self) -> None:
        self._processors.update(self._snapshot.view.breakers)
        for processor in self._processors:
            code = metrics.BREAKER_STATE_CODES[self._snapshot.state(processor)]
            metrics.BREAKER_STATE.labels(processor).set(code)

    def _store_failed(self, operation: str, error: HealthStoreUnavailable) -> None:
        metrics.HEALTH_STORE_FAILURES.labels(operation).inc()
        now = time.monotonic()
        if self._failure_logged_at is None or now - self._failure_logged_at >= STORE_FAILURE_LOG_INTERVAL_SECONDS:
            self._failure_logged_at = now
            log.warning("routing_health_store_unavailable", operation=operation, error=str(error))


def _announce_transition(processor: str, old: BreakerState, new: BreakerState) -> None:
    metrics.BREAKER_TRANSITIONS.labels(processor, old.value, new.value).inc()
    emit = log.warning if new is BreakerState.OPEN else log.info
    emit("routing_breaker_transition", processor=processor, from_state=old.value, to_state=new.value)
