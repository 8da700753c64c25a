"""Per-merchant token buckets, in this process. With Redis configured the buckets are shared
by every process (ratelimit_redis.py), and this one is its stand-in while Redis is away."""

from __future__ import annotations

import time
from typing import Protocol

from basketpay.errors import RateLimited

BUCKETS_MAX = 100_000


class Limiter(Protocol):
    async def take(self, merchant_id: str) -> None:
        """One request's token, or RateLimited."""
        ...

    async def close(self) -> None: ...


def refused() -> RateLimited:
    return RateLimited("Too many requests; slow down and retry.", code="rate_limit")


class RateLimiter:
    def __init__(self, requests_per_second: float, burst_max: int) -> None:
        self._rate = requests_per_second
        self._burst = float(burst_max)
        self._buckets: dict[str, tuple[float, float]] = {}

    async def take(self, merchant_id: str) -> None:
        now = time.monotonic()
        tokens, last = self._buckets.get(merchant_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < 1.0:
            self._buckets[merchant_id] = (tokens, now)
            raise refused()
        if len(self._buckets) >= BUCKETS_MAX and merchant_id not in self._buckets:
            self._buckets.clear()
        self._buckets[merchant_id] = (tokens - 1.0, now)

    async def close(self) -> None:
        return None

