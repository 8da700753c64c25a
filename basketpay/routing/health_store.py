"""Where processor health is kept: one interface, two stores. `InProcessHealthStore` keeps
it in plain dicts for a single process (no Redis configured); `RedisHealthStore`
(`health_redis`) shares it between processes. Each operation is atomic in its store: here
because it never awaits, so no other task runs in the middle of it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from basketpay.routing import health_rules
from basketpay.routing.health_model import (
    CLOSED,
    BreakerRecord,
    BreakerState,
    BreakerStep,
    Bucket,
    HealthPolicy,
    HealthView,
    Outcome,
    Pair,
)


class HealthStoreUnavailable(Exception):
    """The store could not be reached or answered wrongly. Health is advice to routing, so
    callers carry on without it instead of failing a payment."""


class HealthStore(Protocol):
    @property
    def shared(self) -> bool:
        """Whether other processes write to this store, so a local snapshot needs refreshing."""
        ...

    async def record(self, processor: str, segment: str, outcome: Outcome, now: float) -> BreakerStep: ...

    async def record_many(self, outcomes: Sequence[Recorded]) -> list[BreakerStep]:
        """Several outcomes in one go (one round trip for a shared store), in order."""
        ...

    async def try_acquire_probe(self, processor: str, now: float) -> BreakerStep: ...

    async def read(self, now: float) -> HealthView: ...

    async def close(self) -> None: ...


Recorded = tuple[str, str, Outcome, float]  # processor, segment, outcome, when


class InProcessHealthStore:
    def __init__(self, policy: HealthPolicy) -> None:
        self._policy = policy
        self._windows: dict[Pair, tuple[Bucket, ...]] = {}
        self._calls: dict[str, tuple[Bucket, ...]] = {}  # (index, calls, failures) per processor
        self._breakers: dict[str, BreakerRecord] = {}  # closed breakers are absent

    @property
    def shared(self) -> bool:
        return False

    async def record(self, processor: str, segment: str, outcome: Outcome, now: float) -> BreakerStep:
        policy = self._policy
        if outcome.is_issuer_answer:
            index = health_rules.bucket_index(now, policy.window_bucket_seconds)
            approved = int(outcome is Outcome.APPROVED)
            buckets = self._windows.get((processor, segment), ())
            self._windows[(processor, segment)] = health_rules.add_to_window(
                buckets, index, policy.window_buckets_count, approved, 1 - approved
            )
        index = health_rules.bucket_index(now, policy.breaker_bucket_seconds)
        failed = outcome.is_processor_failure
        calls = health_rules.add_to_window(
            self._calls.get(processor, ()), index, policy.breaker_buckets_count, 1, int(failed)
        )
        before = self._breakers.get(processor, CLOSED)
        present = health_rules.current(before, now, policy)
        after = health_rules.after_outcome(
            present, failed, *health_rules.window_totals(calls, index, policy.breaker_buckets_count), now, policy
        )
        self._calls[processor] = () if health_rules.window_resets(present, after) else calls
        self._save(processor, after)
        return BreakerStep(before, present, after)

    async def record_many(self, outcomes: Sequence[Recorded]) -> list[BreakerStep]:
        return [await self.record(*recorded) for recorded in outcomes]

    async def try_acquire_probe(self, processor: str, now: float) -> BreakerStep:
        before = self._breakers.get(processor, CLOSED)
        present = health_rules.current(before, now, self._policy)
        after, granted = health_rules.after_probe_request(present, self._policy)
        self._save(processor, after)
        return BreakerStep(before, present, after, granted)

    async def read(self, now: float) -> HealthView:
        """A copy (the snapshot must not change under a routing decision), without the
        (processor, segment) pairs whose buckets all left the window, so memory is bounded
        by the pairs seen in one window."""
        index = health_rules.bucket_index(now, self._policy.window_bucket_seconds)
        oldest = index - self._policy.window_buckets_count + 1
        expired = [pair for pair, buckets in self._windows.items() if max(bucket[0] for bucket in buckets) < oldest]
        for pair in expired:
            del self._windows[pair]
        return HealthView(windows=dict(self._windows), breakers=dict(self._breakers))

    async def close(self) -> None:
        return None

    def _save(self, processor: str, record: BreakerRecord) -> None:
        if record.state is BreakerState.CLOSED:
            self._breakers.pop(processor, None)
        else:
            self._breakers[processor] = record
