"""The words of processor health: what an attempt's outcome was, the circuit breaker's
states, the limits both are kept with, and what a health store answers. No I/O here:
the in-process and Redis stores, and the snapshot routing reads, all speak these types."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from basketpay.invariant import invariant

# (bucket index, first count, second count): success-rate windows keep (approved, declined),
# breaker windows keep (calls, failures). Immutable, so a snapshot can share them.
Bucket = tuple[int, int, int]
Pair = tuple[str, str]  # (processor, segment)

# Stores join names with it (Redis hash fields), so names must not contain it.
SEPARATOR = "|"


class Outcome(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"  # the issuer said no: the processor worked
    ERROR = "error"  # 5xx or connection failure: the processor did not work
    TIMEOUT = "timeout"

    @property
    def is_issuer_answer(self) -> bool:
        """Only issuer answers say how well a processor gets cards approved; an error says
        nothing about the card."""
        return self in (Outcome.APPROVED, Outcome.DECLINED)

    @property
    def is_processor_failure(self) -> bool:
        return self in (Outcome.ERROR, Outcome.TIMEOUT)


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """How long outcomes count and when a processor is cut off. The breaker opens when, in
    its window, at least `calls_min` calls were made and more than `failure_rate_max` of
    them failed; it half-opens `cooldown_seconds` later with `probes_max` probe calls. A
    half-open period whose probes never report lasts `probe_timeout_seconds`, then a new
    one starts, so a probe lost in a crashed process cannot keep the breaker shut."""

    window_bucket_seconds: float = 60.0
    window_buckets_count: int = 10
    breaker_window_seconds: float = 30.0
    breaker_buckets_count: int = 10
    calls_min: int = 20
    failure_rate_max: float = 0.5
    cooldown_seconds: float = 30.0
    probes_max: int = 3
    probe_timeout_seconds: float = 30.0
    # Redis: breaker records expire when no process wrote one for this long (nobody routes there).
    state_ttl_seconds: float = 3600.0

    def __post_init__(self) -> None:
        invariant(self.window_bucket_seconds > 0 and self.window_buckets_count >= 1, "window must be positive")
        invariant(self.breaker_window_seconds > 0 and self.breaker_buckets_count >= 1, "breaker window must be positive")
        invariant(self.calls_min >= 1, "calls_min must be at least 1")
        invariant(0.0 <= self.failure_rate_max < 1.0, "failure_rate_max must be in [0, 1)")
        invariant(self.cooldown_seconds > 0 and self.probe_timeout_seconds > 0, "cool-down and probe timeout > 0")
        invariant(self.probes_max >= 1, "probes_max must be at least 1")
        invariant(
            self.state_ttl_seconds > self.cooldown_seconds + self.probe_timeout_seconds,
            "an open breaker must outlive its cool-down and a probe period",
        )

    @property
    def breaker_bucket_seconds(self) -> float:
        return self.breaker_window_seconds / self.breaker_buckets_count

    @property
    def window_ttl_seconds(self) -> int:
        """One bucket longer than the window: a bucket is read until it leaves the window."""
        return math.ceil(self.window_bucket_seconds * (self.window_buckets_count + 1))

    @property
    def breaker_bucket_ttl_seconds(self) -> int:
        return math.ceil(self.breaker_bucket_seconds * (self.breaker_buckets_count + 1))


@dataclass(frozen=True, slots=True)
class BreakerRecord:
    """A breaker as stored: OPEN since `changed_at`, or HALF_OPEN since `changed_at` with
    `probes_granted` probes handed out. Time-driven changes (OPEN → HALF_OPEN) are not
    written when they happen but computed when read (`health_rules.current`)."""

    state: BreakerState
    changed_at: float = 0.0
    probes_granted: int = 0


CLOSED = BreakerRecord(BreakerState.CLOSED)

Transition = tuple[BreakerState, BreakerState]


@dataclass(frozen=True, slots=True)
class BreakerStep:
    """What one atomic store operation did to a breaker: the stored record before, the
    record as time had changed it (`present`), the stored record after, and whether a call
    (a probe when half-open) was allowed."""

    before: BreakerRecord
    present: BreakerRecord
    after: BreakerRecord
    granted: bool = False

    @property
    def transitions(self) -> tuple[Transition, ...]:
        """Each state change this operation made, in order; exactly one process sees each,
        because the store decides it atomically."""
        states = (self.before.state, self.present.state, self.after.state)
        return tuple((old, new) for old, new in pairwise(states) if old is not new)


@dataclass(frozen=True, slots=True)
class HealthView:
    """What a store holds, as read at one moment: success-rate buckets per (processor,
    segment) and every breaker that is not plainly closed."""

    windows: Mapping[Pair, tuple[Bucket, ...]]
    breakers: Mapping[str, BreakerRecord]


EMPTY_VIEW = HealthView(windows={}, breakers={})


def check_name(name: str) -> None:
    invariant(bool(name) and SEPARATOR not in name, f"processor and segment names must be non-empty, no {SEPARATOR!r}")
