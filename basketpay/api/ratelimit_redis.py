"""Per-merchant rate limits shared by every API process through Redis.

One token bucket per merchant lives in Redis (`{prefix}:{merchant}`: tokens, refilled at
the configured rate up to the burst, by Redis's own clock so processes' clocks do not
matter). A request does not go to Redis: each process takes tokens in leases (about 50 ms
of the merchant's rate, one round trip per lease) and spends them locally. So the limit
holds across processes to within one lease per process, and a lease older than a second is
dropped rather than spent (a process that went quiet must not burst on old tokens later).

When Redis is away the process limits on its own (the in-process bucket), as before Redis
was configured, and asks Redis again only after a few seconds: rate limiting must never
refuse or fail payments because of Redis, nor make each request wait out a Redis timeout.
"""

from __future__ import annotations

import math
import time

import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from basketpay.api.ratelimit import BUCKETS_MAX, Limiter, RateLimiter, refused

__all__ = ["SharedRateLimiter", "open_limiter"]

log = structlog.get_logger(__name__)

LEASE_SECONDS = 0.05  # a lease is this much of the merchant's rate (at least one token)
LEASE_LIFETIME_SECONDS = 1.0
REDIS_TIMEOUT_SECONDS = 0.2
FAILURE_LOG_INTERVAL_SECONDS = 10.0
RETRY_REDIS_AFTER_SECONDS = 5.0  # after a failure, requests are limited in process until then

# KEYS: the merchant's bucket. ARGV: rate per second, burst, tokens wanted, key TTL (s).
# Returns the tokens granted (0 to wanted).
_LEASE = """
local rate, burst, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if not tokens then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local granted = math.min(wanted, math.floor(tokens))
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens - granted), 'at', string.format('%.17g', now))
redis.call('EXPIRE', KEYS[1], ARGV[4])
return granted
"""


class SharedRateLimiter:
    """Owns its Redis client: `close()` closes it."""

    def __init__(self, client: Redis, requests_per_second: float, burst_max: int, key_prefix: str) -> None:
        self._client, self._prefix = client, key_prefix
        self._rate, self._burst = requests_per_second, burst_max
        self._lease_size = max(1, min(burst_max, int(requests_per_second * LEASE_SECONDS)))
        self._ttl_seconds = math.ceil(burst_max / requests_per_second) + 1  # then a missing key = a full bucket
        self._script = client.register_script(_LEASE)
        self._leases: dict[str, tuple[int, float]] = {}  # merchant -> (tokens left, leased at)
        self._alone = RateLimiter(requests_per_second, burst_max)  # when Redis is away
        self._failure_logged_at: float | None = None
        self._redis_away_until = 0.0

    @classmethod
    def from_url(cls, url: str, requests_per_second: float, burst_max: int, key_prefix: str) -> SharedRateLimiter:
        client = Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                                retry=Retry(NoBackoff(), retries=1))
        return cls(client, requests_per_second, burst_max, key_prefix)

    async def take(self, merchant_id: str) -> None:
        """One request's token, or RateLimited."""
        now = time.monotonic()
        left, leased_at = self._leases.get(merchant_id, (0, now))
        if left > 0 and now - leased_at < LEASE_LIFETIME_SECONDS:
            self._leases[merchant_id] = (left - 1, leased_at)
            return
        if now < self._redis_away_until:
            await self._alone.take(merchant_id)
            return
        try:
            granted = int(await self._script(keys=[f"{self._prefix}:{merchant_id}"],
                                             args=[repr(self._rate), self._burst, self._lease_size, self._ttl_seconds]))
        except (RedisError, OSError) as error:
            self._redis_failed(error)
            await self._alone.take(merchant_id)
            return
        if granted < 1:
            self._leases.pop(merchant_id, None)
            raise refused()
        if len(self._leases) >= BUCKETS_MAX and merchant_id not in self._leases:
            self._leases.clear()
        self._leases[merchant_id] = (granted - 1, now)

    async def close(self) -> None:
        await self._client.aclose()

    def _redis_failed(self, error: Exception) -> None:
        now = time.monotonic()
        self._redis_away_until = now + RETRY_REDIS_AFTER_SECONDS
        if self._failure_logged_at is None or now - self._failure_logged_at >= FAILURE_LOG_INTERVAL_SECONDS:
            self._failure_logged_at = now
            log.warning("rate_limit_redis_unavailable", error=str(error))


def open_limiter(redis_url: str | None, requests_per_second: float, burst_max: int, key_prefix: str) -> Limiter:
    """Shared through Redis when one is configured, otherwise this process's own."""
    if redis_url is None:
        return RateLimiter(requests_per_second, burst_max)
    return SharedRateLimiter.from_url(redis_url, requests_per_second, burst_max, key_prefix)
