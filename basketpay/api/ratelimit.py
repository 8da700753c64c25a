"""Per-merchant token buckets (in process; the routing issue moves shared state to Redis)."""

from __future__ import annotations

import time

from basketpay.errors import RateLimited

BUCKETS_MAX = 100_000


class RateLimiter:
    def __init__(self, requests_per_second: float, burst_max: int) -> None:
        self._rate = requests_per_second
        self._burst = float(burst_max)
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, merchant_id: str) -> None:
        now = time.monotonic()
        tokens, last = self._buckets.get(merchant_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < 1.0:
            self._buckets[merchant_id] = (tokens, now)
            raise RateLimited("Too many requests; slow down and retry.", code="rate_limit")
        if len(self._buckets) >= BUCKETS_MAX and merchant_id not in self._buckets:
            self._buckets.clear()
        self._buckets[merchant_id] = (tokens - 1.0, now)

    def retry_after_seconds(self) -> int:
        return max(1, int(1 / self._rate + 0.999))
