"""Per-merchant rate limits shared through a real Redis (BASKETPAY_REDIS_URL, default the
local one): several limiters stand for several API processes, each with its own client."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest
import redis

from basketpay.api import ratelimit_redis
from basketpay.api.ratelimit_redis import SharedRateLimiter
from basketpay.errors import RateLimited
from tests.helpers import REDIS_URL, redis_prefix


@pytest.fixture()
def prefix() -> Iterator[str]:
    yield from redis_prefix("ratelimit")


async def _granted(limiter: SharedRateLimiter, merchant: str, tries: int) -> int:
    granted = 0
    for _ in range(tries):
        try:
            await limiter.take(merchant)
            granted += 1
        except RateLimited:
            pass
    return granted


def test_processes_share_one_bucket_per_merchant(prefix: str) -> None:
    """Burst 10, no refill to speak of: four processes together get 10, not 40; another
    merchant has a bucket of its own."""

    async def main() -> None:
        limiters = [SharedRateLimiter.from_url(REDIS_URL, 0.001, 10, prefix) for _ in range(4)]
        try:
            counts = await asyncio.gather(*(_granted(limiter, "m_a", 10) for limiter in limiters))
            assert sum(counts) == 10
            assert await _granted(limiters[0], "m_b", 3) == 3
        finally:
            for limiter in limiters:
                await limiter.close()

    asyncio.run(main())


def test_tokens_are_leased_in_batches_and_within_one_lease_per_process(prefix: str) -> None:
    """At 2,000/s a lease is 100 tokens: a process spends them without a round trip, and two
    processes emptying a burst of 1,000 get at most the burst plus what refilled meanwhile."""

    async def main() -> None:
        limiters = [SharedRateLimiter.from_url(REDIS_URL, 2000.0, 1000, prefix) for _ in range(2)]
        admin = redis.asyncio.Redis.from_url(REDIS_URL)
        try:
            await limiters[0].take("m_a")
            tokens = float(await admin.hget(f"{prefix}:m_a", "tokens") or 0)
            assert 899 <= tokens < 905  # one lease of 100 left the shared bucket for one request
            started = asyncio.get_running_loop().time()
            counts = await asyncio.gather(*(_granted(limiter, "m_a", 1500) for limiter in limiters))
            refill = (asyncio.get_running_loop().time() - started) * 2000
            assert 1000 - 1 <= sum(counts) + 1 <= 1000 + refill + 2 * 100
        finally:
            await admin.aclose()
            for limiter in limiters:
                await limiter.close()

    asyncio.run(main())


def test_an_old_lease_is_dropped_not_spent(prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit_redis, "LEASE_LIFETIME_SECONDS", 0.0)  # every lease is old at once
    monkeypatch.setattr(ratelimit_redis, "LEASE_SECONDS", 5.0)  # leases of 5 at 1/s: refill is no factor

    async def main() -> None:
        limiter = SharedRateLimiter.from_url(REDIS_URL, 1.0, 20, prefix)
        try:
            assert await _granted(limiter, "m_a", 4) == 4  # four leases: 20 tokens gone, 4 spent
            with pytest.raises(RateLimited):
                await limiter.take("m_a")
        finally:
            await limiter.close()

    asyncio.run(main())


def test_without_redis_each_process_limits_alone(prefix: str) -> None:
    async def main() -> None:
        limiter = SharedRateLimiter.from_url("redis://127.0.0.1:1/0", 0.001, 2, prefix)  # nothing listens
        try:
            assert await _granted(limiter, "m_a", 5) == 2
        finally:
            await limiter.close()

    asyncio.run(main())


def test_a_hung_redis_costs_one_timeout_not_one_per_request(prefix: str) -> None:
    """A Redis that accepts connections and never answers: the first request waits out the
    timeout and is limited in process; the next ones do not ask Redis for a while."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel completes connections; nobody reads them

    async def main() -> None:
        limiter = SharedRateLimiter.from_url(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", 0.001, 50, prefix)
        try:
            started = time.monotonic()
            await limiter.take("m_a")
            first = time.monotonic() - started
            started = time.monotonic()
            assert await _granted(limiter, "m_a", 20) == 20
            rest = time.monotonic() - started
        finally:
            await limiter.close()
        assert first >= ratelimit_redis.REDIS_TIMEOUT_SECONDS
        assert rest < ratelimit_redis.REDIS_TIMEOUT_SECONDS

    try:
        asyncio.run(main())
    finally:
        silent.close()
