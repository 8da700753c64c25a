"""Processor health shared through a real Redis (BASKETPAY_REDIS_URL, default the local one),
each test under a random key prefix of its own, deleted afterwards. Several clients and
boards in one event loop stand for several API processes: each has its own connection, so
their commands interleave at the server as separate processes' would."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager

import pytest
import redis
import redis.asyncio
from prometheus_client import REGISTRY

from basketpay.routing.health import BreakerState, HealthBoard, HealthStoreUnavailable, Outcome
from basketpay.routing.health_redis import RedisHealthStore
from tests.helpers import REDIS_URL, redis_prefix
from tests.unit.routing.test_health import (
    MASTERCARD,
    POLICY,
    PROCESSOR,
    SHARED_SCENARIOS,
    VISA,
    FakeClock,
    Scenario,
    open_breaker,
    record_many,
)

PROCESSES = 6


@pytest.fixture()
def prefix() -> Iterator[str]:
    yield from redis_prefix("health")


@asynccontextmanager
async def boards(prefix: str, clock: FakeClock, count: int) -> AsyncIterator[list[HealthBoard]]:
    """`count` boards sharing one prefix, each with its own Redis connection."""
    stores = [RedisHealthStore(redis.asyncio.Redis.from_url(REDIS_URL), POLICY, prefix) for _ in range(count)]
    try:
        yield [HealthBoard(store, POLICY, clock) for store in stores]
    finally:
        for store in stores:
            await store.close()


def run(prefix: str, count: int, scenario: Callable[[list[HealthBoard], FakeClock], Awaitable[None]]) -> None:
    async def main() -> None:
        clock = FakeClock()
        async with boards(prefix, clock, count) as made:
            await scenario(made, clock)

    asyncio.run(main())


@pytest.mark.parametrize("scenario", SHARED_SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_redis_store(scenario: Scenario, prefix: str) -> None:
    async def one_board(made: list[HealthBoard], clock: FakeClock) -> None:
        await scenario(made[0], clock)

    run(prefix, 1, one_board)


def test_probe_budget_is_never_exceeded_by_racing_processes(prefix: str) -> None:
    async def race(made: list[HealthBoard], clock: FakeClock) -> None:
        await open_breaker(made[0])
        for _ in range(3):  # three half-open periods: each hands out exactly probes_max
            clock.advance(POLICY.probe_timeout_seconds)
            await asyncio.gather(*(board.refresh() for board in made))
            assert all(board.snapshot().state(PROCESSOR) is BreakerState.HALF_OPEN for board in made)
            asks = [board.try_acquire_probe(PROCESSOR) for board in made for _ in range(10)]
            granted = await asyncio.gather(*asks)
            assert sum(granted) == POLICY.probes_max

    run(prefix, PROCESSES, race)


def test_racing_processes_lose_no_counts_and_open_the_breaker_once(prefix: str) -> None:
    processor = f"p{uuid.uuid4().hex[:8]}"  # metrics outlive a test: a name of its own
    per_board = {Outcome.APPROVED: 25, Outcome.DECLINED: 25, Outcome.ERROR: 45, Outcome.TIMEOUT: 10}

    async def race(made: list[HealthBoard], clock: FakeClock) -> None:
        writes = [record_many(board, processor, outcome, times) for board in made for outcome, times in per_board.items()]
        await asyncio.gather(*writes)
        reader = made[-1]
        await reader.refresh()
        assert reader.snapshot().successes_failures(processor, VISA) == (25 * PROCESSES, 25 * PROCESSES)
        assert reader.snapshot().state(processor) is BreakerState.OPEN  # 330 failures in 630 calls, at the latest

    run(prefix, PROCESSES, race)
    labels = {"processor": processor, "from_state": "closed", "to_state": "open"}
    assert REGISTRY.get_sample_value("basketpay_routing_breaker_transitions_total", labels) == 1.0


def test_boards_see_each_others_outcomes_after_refresh(prefix: str) -> None:
    async def share(made: list[HealthBoard], clock: FakeClock) -> None:
        writer, reader = made
        await writer.record(PROCESSOR, VISA, Outcome.APPROVED, latency_ms=5.0)
        await writer.record(PROCESSOR, MASTERCARD, Outcome.DECLINED, latency_ms=5.0)
        assert reader.snapshot().successes_failures(PROCESSOR, VISA) == (0, 0)  # not yet refreshed
        await reader.refresh()
        assert reader.snapshot().successes_failures(PROCESSOR, VISA) == (1, 0)
        assert reader.snapshot().successes_failures(PROCESSOR, MASTERCARD) == (0, 1)
        await open_breaker(writer)
        assert reader.snapshot().allows(PROCESSOR)
        await reader.refresh()
        assert reader.snapshot().state(PROCESSOR) is BreakerState.OPEN and not reader.snapshot().allows(PROCESSOR)

    run(prefix, 2, share)


def test_background_refresher_keeps_the_snapshot_fresh(prefix: str) -> None:
    async def refresh_in_background(made: list[HealthBoard], clock: FakeClock) -> None:
        writer, reader = made
        stop = asyncio.Event()
        refresher = asyncio.create_task(reader.run_refresher(stop, interval_seconds=0.02))
        await writer.record(PROCESSOR, VISA, Outcome.APPROVED, latency_ms=5.0)
        for _ in range(50):  # at most 1 s
            if reader.snapshot().successes_failures(PROCESSOR, VISA) == (1, 0):
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(refresher, timeout=1.0)
        assert reader.snapshot().successes_failures(PROCESSOR, VISA) == (1, 0)

    run(prefix, 2, refresh_in_background)


def test_every_key_expires(prefix: str) -> None:
    async def write(made: list[HealthBoard], clock: FakeClock) -> None:
        await record_many(made[0], PROCESSOR, Outcome.APPROVED, 1)
        await open_breaker(made[0])

    run(prefix, 1, write)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        assert {key.decode().split(":")[3] for key in keys} == {"window", "calls", "breakers"}
        ttls = [client.ttl(key) for key in keys]
    finally:
        client.close()
    assert all(0 < ttl <= POLICY.state_ttl_seconds for ttl in ttls), ttls


def test_board_carries_on_when_redis_is_away() -> None:
    async def main() -> None:
        store = RedisHealthStore.from_url("redis://127.0.0.1:1/0", POLICY, "test:health:away", timeout_ms=200)
        board = HealthBoard(store, POLICY, FakeClock())
        try:
            await board.record(PROCESSOR, VISA, Outcome.APPROVED, latency_ms=5.0)  # does not raise
            assert not await board.try_acquire_probe(PROCESSOR)
            with pytest.raises(HealthStoreUnavailable):
                await board.refresh()
            stop = asyncio.Event()
            refresher = asyncio.create_task(board.run_refresher(stop, interval_seconds=0.01))
            await asyncio.sleep(0.05)
            stop.set()
            await asyncio.wait_for(refresher, timeout=1.0)  # survived the failures
            assert board.snapshot().allows(PROCESSOR)
        finally:
            await store.close()

    asyncio.run(main())


def test_outcomes_recorded_soon_are_written_in_batches_and_count_the_same(prefix: str) -> None:
    """The payment path's way: no await per outcome; one pipelined round trip per batch."""
    processor = f"p{uuid.uuid4().hex[:8]}"

    async def batched(made: list[HealthBoard], clock: FakeClock) -> None:
        writer, reader = made
        for _ in range(40):
            writer.record_soon(processor, VISA, Outcome.APPROVED, latency_ms=3.0)
        for _ in range(30):
            writer.record_soon(processor, VISA, Outcome.ERROR, latency_ms=3.0)
        assert writer.snapshot().successes_failures(processor, VISA) == (0, 0)  # nothing written yet
        await asyncio.sleep(0.2)
        await reader.refresh()
        assert reader.snapshot().successes_failures(processor, VISA) == (40, 0)
        assert reader.snapshot().state(processor) is BreakerState.CLOSED  # 30 of 70 failed: under half
        for _ in range(20):
            writer.record_soon(processor, VISA, Outcome.TIMEOUT, latency_ms=3.0)
        await writer.close()  # writes what is queued before the store goes
        await reader.refresh()
        assert reader.snapshot().state(processor) is BreakerState.OPEN  # 50 of 90

    run(prefix, 2, batched)


def test_batched_outcomes_survive_redis_forgetting_its_scripts(prefix: str) -> None:
    """Batches go by the script's digest; after SCRIPT FLUSH (or a Redis restart) the batch
    that finds the script gone loads it and sends again exactly the calls that did nothing."""
    processor = f"p{uuid.uuid4().hex[:8]}"

    async def forgetting(made: list[HealthBoard], clock: FakeClock) -> None:
        writer, reader = made
        admin = redis.asyncio.Redis.from_url(REDIS_URL)
        try:
            for round_number in range(3):
                await admin.script_flush()
                for _ in range(10):
                    writer.record_soon(processor, VISA, Outcome.APPROVED, latency_ms=3.0)
                for _ in range(5):
                    writer.record_soon(processor, VISA, Outcome.DECLINED, latency_ms=3.0)
                await asyncio.sleep(0.3)
                await reader.refresh()
                assert reader.snapshot().successes_failures(processor, VISA) == (10 * (round_number + 1),
                                                                                 5 * (round_number + 1))
        finally:
            await admin.aclose()

    run(prefix, 2, forgetting)
