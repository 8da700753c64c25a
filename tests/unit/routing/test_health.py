"""Processor health with the in-process store. The scenarios in SHARED_SCENARIOS are the
contract of every store: tests/integration/routing/test_health_redis.py runs the same ones
against Redis, whose breaker rules are Lua and must agree with `health_rules`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import structlog
from prometheus_client import REGISTRY

from basketpay.routing import health
from basketpay.routing.health import BreakerState, HealthBoard, HealthPolicy, Outcome
from basketpay.routing.health_store import InProcessHealthStore

POLICY = HealthPolicy()  # 10 one-minute buckets; breaker: 30 s, 20 calls, 50 %, 30 s cool-down, 3 probes
VISA = "visa:debit:usd"
MASTERCARD = "mastercard:credit:usd"
PROCESSOR = "stripe"
OTHER = "adyen"


class FakeClock:
    """Seconds since the epoch that move only when told; starts on a minute boundary."""

    def __init__(self, now: float = 1_699_999_980.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Scenario = Callable[[HealthBoard, FakeClock], Coroutine[Any, Any, None]]


async def record_many(board: HealthBoard, processor: str, outcome: Outcome, times: int) -> None:
    for _ in range(times):
        await board.record(processor, VISA, outcome, latency_ms=12.5)


async def open_breaker(board: HealthBoard, processor: str = PROCESSOR) -> None:
    await record_many(board, processor, Outcome.ERROR, POLICY.calls_min)
    assert board.snapshot().state(processor) is BreakerState.OPEN


async def windows_count_issuer_answers_and_expire(board: HealthBoard, clock: FakeClock) -> None:
    for outcome, times in ((Outcome.APPROVED, 3), (Outcome.DECLINED, 2), (Outcome.ERROR, 4), (Outcome.TIMEOUT, 1)):
        await record_many(board, PROCESSOR, outcome, times)
    await board.record(PROCESSOR, MASTERCARD, Outcome.APPROVED, latency_ms=1.0)
    await board.record(OTHER, VISA, Outcome.DECLINED, latency_ms=1.0)
    await board.refresh()
    snapshot = board.snapshot()
    assert snapshot.successes_failures(PROCESSOR, VISA) == (3, 2)  # errors and timeouts are not declines
    assert snapshot.successes_failures(PROCESSOR, MASTERCARD) == (1, 0)
    assert snapshot.successes_failures(OTHER, VISA) == (0, 1)
    assert snapshot.successes_failures(OTHER, MASTERCARD) == (0, 0)
    clock.advance(9 * POLICY.window_bucket_seconds)  # the last minute of the window
    await record_many(board, PROCESSOR, Outcome.APPROVED, 1)
    await board.refresh()
    assert board.snapshot().successes_failures(PROCESSOR, VISA) == (4, 2)
    clock.advance(POLICY.window_bucket_seconds)  # the first minute leaves the window
    assert board.snapshot().successes_failures(PROCESSOR, VISA) == (1, 0)  # by the clock alone
    await board.refresh()
    assert board.snapshot().successes_failures(PROCESSOR, VISA) == (1, 0)
    clock.advance(9 * POLICY.window_bucket_seconds)
    await board.refresh()
    assert board.snapshot().successes_failures(PROCESSOR, VISA) == (0, 0)


async def breaker_opens_only_above_the_failure_rate(board: HealthBoard, clock: FakeClock) -> None:
    for _ in range(POLICY.calls_min // 2):
        await record_many(board, PROCESSOR, Outcome.APPROVED, 1)
        await record_many(board, PROCESSOR, Outcome.ERROR, 1)
    assert board.snapshot().state(PROCESSOR) is BreakerState.CLOSED  # 50 % is not above 50 %
    await record_many(board, PROCESSOR, Outcome.TIMEOUT, 1)  # 11 of 21
    snapshot = board.snapshot()
    assert snapshot.state(PROCESSOR) is BreakerState.OPEN and not snapshot.allows(PROCESSOR)
    assert snapshot.state(OTHER) is BreakerState.CLOSED and snapshot.allows(OTHER)


async def breaker_needs_calls_min_inside_its_window(board: HealthBoard, clock: FakeClock) -> None:
    await record_many(board, PROCESSOR, Outcome.ERROR, POLICY.calls_min - 1)
    assert board.snapshot().state(PROCESSOR) is BreakerState.CLOSED
    clock.advance(POLICY.breaker_window_seconds + 1)  # those failures leave the breaker window
    await record_many(board, PROCESSOR, Outcome.ERROR, POLICY.calls_min - 1)
    assert board.snapshot().state(PROCESSOR) is BreakerState.CLOSED
    await record_many(board, PROCESSOR, Outcome.ERROR, 1)
    assert board.snapshot().state(PROCESSOR) is BreakerState.OPEN


async def issuer_declines_never_open_the_breaker(board: HealthBoard, clock: FakeClock) -> None:
    await record_many(board, PROCESSOR, Outcome.DECLINED, 3 * POLICY.calls_min)
    await record_many(board, PROCESSOR, Outcome.ERROR, POLICY.calls_min)
    assert board.snapshot().state(PROCESSOR) is BreakerState.CLOSED  # 20 failures in 80 calls


async def breaker_half_opens_after_the_cooldown(board: HealthBoard, clock: FakeClock) -> None:
    await open_breaker(board)
    clock.advance(POLICY.cooldown_seconds - 0.1)
    await board.refresh()
    assert board.snapshot().state(PROCESSOR) is BreakerState.OPEN and not board.snapshot().allows(PROCESSOR)
    clock.advance(0.1)
    assert board.snapshot().state(PROCESSOR) is BreakerState.HALF_OPEN  # by the clock alone
    await board.refresh()
    assert board.snapshot().state(PROCESSOR) is BreakerState.HALF_OPEN and board.snapshot().allows(PROCESSOR)


async def probe_success_closes_with_a_fresh_window(board: HealthBoard, clock: FakeClock) -> None:
    await open_breaker(board)
    clock.advance(POLICY.cooldown_seconds - 5)
    await record_many(board, PROCESSOR, Outcome.ERROR, POLICY.calls_min)  # calls sent before it opened
    assert board.snapshot().state(PROCESSOR) is BreakerState.OPEN
    clock.advance(5)
    assert await board.try_acquire_probe(PROCESSOR)
    await record_many(board, PROCESSOR, Outcome.DECLINED, 1)  # the issuer answered: the processor works
    assert board.snapshot().state(PROCESSOR) is BreakerState.CLOSED
    await record_many(board, PROCESSOR, Outcome.ERROR, 1)  # the late errors, still in the window, are forgotten
    await board.refresh()
    assert board.snapshot().state(PROCESSOR) is BreakerState.CLOSED and board.snapshot().allows(PROCESSOR)


async def probe_failure_reopens_for_another_cooldown(board: HealthBoard, clock: FakeClock) -> None:
    await open_breaker(board)
    clock.advance(POLICY.cooldown_seconds)
    assert await board.try_acquire_probe(PROCESSOR)
    await record_many(board, PROCESSOR, Outcome.TIMEOUT, 1)
    assert board.snapshot().state(PROCESSOR) is BreakerState.OPEN and not board.snapshot().allows(PROCESSOR)
    clock.advance(POLICY.cooldown_seconds - 1)
    assert not await board.try_acquire_probe(PROCESSOR)
    clock.advance(1)
    await board.refresh()
    assert board.snapshot().state(PROCESSOR) is BreakerState.HALF_OPEN


async def probe_budget_is_kept_and_renewed_when_probes_are_lost(board: HealthBoard, clock: FakeClock) -> None:
    assert await board.try_acquire_probe(PROCESSOR)  # closed: every call goes
    await open_breaker(board)
    clock.advance(POLICY.cooldown_seconds)
    granted = [await board.try_acquire_probe(PROCESSOR) for _ in range(POLICY.probes_max + 2)]
    assert granted == [True] * POLICY.probes_max + [False, False]
    assert board.snapshot().state(PROCESSOR) is BreakerState.HALF_OPEN and not board.snapshot().allows(PROCESSOR)
    clock.advance(POLICY.probe_timeout_seconds)  # no probe ever reported: a new half-open period
    assert board.snapshot().allows(PROCESSOR)
    assert await board.try_acquire_probe(PROCESSOR)


SHARED_SCENARIOS: list[Scenario] = [
    windows_count_issuer_answers_and_expire,
    breaker_opens_only_above_the_failure_rate,
    breaker_needs_calls_min_inside_its_window,
    issuer_declines_never_open_the_breaker,
    breaker_half_opens_after_the_cooldown,
    probe_success_closes_with_a_fresh_window,
    probe_failure_reopens_for_another_cooldown,
    probe_budget_is_kept_and_renewed_when_probes_are_lost,
]


def in_process_board(clock: FakeClock) -> HealthBoard:
    return HealthBoard(InProcessHealthStore(POLICY), POLICY, clock)


@pytest.mark.parametrize("scenario", SHARED_SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_in_process_store(scenario: Scenario) -> None:
    clock = FakeClock()
    asyncio.run(scenario(in_process_board(clock), clock))


def test_in_process_snapshot_is_current_without_refresh() -> None:
    board = in_process_board(FakeClock())
    asyncio.run(board.record(PROCESSOR, VISA, Outcome.APPROVED, latency_ms=3.0))
    assert board.snapshot().successes_failures(PROCESSOR, VISA) == (1, 0)
    asyncio.run(open_breaker(board))
    assert not board.snapshot().allows(PROCESSOR)


def test_snapshot_is_not_changed_by_later_outcomes() -> None:
    board = in_process_board(FakeClock())
    before = board.snapshot()
    asyncio.run(board.record(PROCESSOR, VISA, Outcome.APPROVED, latency_ms=3.0))
    assert before.successes_failures(PROCESSOR, VISA) == (0, 0)


def test_transitions_are_logged_and_counted_once(monkeypatch: pytest.MonkeyPatch) -> None:
    processor = f"p{uuid.uuid4().hex[:8]}"  # metrics outlive a test: a name of its own
    clock = FakeClock()
    board = in_process_board(clock)

    async def open_probe_close() -> None:
        await open_breaker(board, processor)
        await record_many(board, processor, Outcome.ERROR, 5)  # already open: no second transition
        clock.advance(POLICY.cooldown_seconds)
        assert await board.try_acquire_probe(processor)
        await board.record(processor, VISA, Outcome.APPROVED, latency_ms=3.0)

    with structlog.testing.capture_logs() as logs:
        # The module logger may be cached with another configuration by earlier tests.
        monkeypatch.setattr(health, "log", structlog.get_logger(health.__name__))
        asyncio.run(open_probe_close())
    changes = [(line["from_state"], line["to_state"]) for line in logs if line["event"] == "routing_breaker_transition"]
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    for old, new in changes:
        labels = {"processor": processor, "from_state": old, "to_state": new}
        assert REGISTRY.get_sample_value("basketpay_routing_breaker_transitions_total", labels) == 1.0
    assert REGISTRY.get_sample_value("basketpay_routing_breaker_state", {"processor": processor}) == 0.0


def test_names_with_the_separator_are_refused() -> None:
    board = in_process_board(FakeClock())
    with pytest.raises(AssertionError):
        asyncio.run(board.record("str|ipe", VISA, Outcome.APPROVED, latency_ms=1.0))
