"""The rules of processor health as pure functions: time buckets of a sliding window, and
the circuit breaker's transitions. The in-process store and the snapshot run them here;
the Redis store runs the same rules in Lua (`health_redis_lua`), which must stay in step
with this module: the shared test scenarios run against both stores."""

from __future__ import annotations

import math
from dataclasses import replace

from basketpay.routing.health_model import CLOSED, BreakerRecord, BreakerState, Bucket, HealthPolicy


def bucket_index(now: float, bucket_seconds: float) -> int:
    return math.floor(now / bucket_seconds)


def window_totals(buckets: tuple[Bucket, ...], index: int, buckets_count: int) -> tuple[int, int]:
    """The two counts summed over the buckets inside the window that ends at `index`."""
    oldest = index - buckets_count + 1
    inside = [bucket for bucket in buckets if oldest <= bucket[0] <= index]
    return sum(bucket[1] for bucket in inside), sum(bucket[2] for bucket in inside)


def add_to_window(
    buckets: tuple[Bucket, ...], index: int, buckets_count: int, first: int, second: int
) -> tuple[Bucket, ...]:
    """A new tuple with the counts added to bucket `index`, buckets outside the window dropped:
    memory stays at `buckets_count` buckets however long the process runs."""
    oldest = index - buckets_count + 1
    kept = [bucket for bucket in buckets if oldest <= bucket[0] and bucket[0] != index]
    _, old_first, old_second = next((bucket for bucket in buckets if bucket[0] == index), (index, 0, 0))
    return (*kept, (index, old_first + first, old_second + second))


def current(record: BreakerRecord, now: float, policy: HealthPolicy) -> BreakerRecord:
    """The breaker as time has changed it since it was stored: an OPEN breaker half-opens when
    its cool-down ends (at that moment, whoever notices it), and a half-open period whose probes
    never reported gives way to a new one with a fresh probe budget."""
    if record.state is BreakerState.OPEN and now >= record.changed_at + policy.cooldown_seconds:
        record = BreakerRecord(BreakerState.HALF_OPEN, record.changed_at + policy.cooldown_seconds, 0)
    if record.state is BreakerState.HALF_OPEN and now >= record.changed_at + policy.probe_timeout_seconds:
        record = BreakerRecord(BreakerState.HALF_OPEN, now, 0)
    return record


def after_outcome(
    present: BreakerRecord, failed: bool, calls: int, failures: int, now: float, policy: HealthPolicy
) -> BreakerRecord:
    """The breaker after one outcome, given the calls and failures in the breaker window
    (this outcome included). Any outcome while half-open is taken as a probe's: a success
    closes the breaker, a failure re-opens it for another cool-down."""
    if present.state is BreakerState.HALF_OPEN:
        return BreakerRecord(BreakerState.OPEN, now, 0) if failed else CLOSED
    if present.state is BreakerState.CLOSED and calls >= policy.calls_min and failures > policy.failure_rate_max * calls:
        return BreakerRecord(BreakerState.OPEN, now, 0)
    return present


def after_probe_request(present: BreakerRecord, policy: HealthPolicy) -> tuple[BreakerRecord, bool]:
    """Whether a call may go now, and the breaker after saying so: closed lets every call
    through, half-open hands out at most `probes_max` probes, open none."""
    if present.state is BreakerState.CLOSED:
        return present, True
    if present.state is BreakerState.HALF_OPEN and present.probes_granted < policy.probes_max:
        return replace(present, probes_granted=present.probes_granted + 1), True
    return present, False


def window_resets(present: BreakerRecord, after: BreakerRecord) -> bool:
    """Closing starts the breaker window afresh: the failures that opened it must not open
    it again with the next error."""
    return after.state is BreakerState.CLOSED and present.state is not BreakerState.CLOSED
