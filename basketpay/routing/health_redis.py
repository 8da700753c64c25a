"""Processor health shared by every API process through Redis. Keys, all under one prefix:

    {prefix}:window:{bucket}              hash  "{processor}|{segment}|{approved or declined}" -> count
    {prefix}:calls:{processor}:{bucket}   hash  calls, failures (the breaker window)
    {prefix}:breakers                     hash  processor -> "state|changed_at|probes_granted"

Bucket keys expire one bucket after they leave their window; the breakers hash expires
when nobody wrote it for `state_ttl_seconds`. Writes are Lua scripts (`health_redis_lua`);
a read is one pipelined round trip of HGETALLs."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError, RedisError

from basketpay.routing import health_redis_lua, health_rules
from basketpay.routing.health_model import (
    SEPARATOR,
    BreakerRecord,
    BreakerState,
    BreakerStep,
    Bucket,
    HealthPolicy,
    HealthView,
    Outcome,
    Pair,
)
from basketpay.routing.health_store import HealthStoreUnavailable, Recorded

DEFAULT_KEY_PREFIX = "basketpay:routing:health"


class RedisHealthStore:
    """Owns its client: `close()` closes it."""

    def __init__(self, client: Redis, policy: HealthPolicy, key_prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self._client = client
        self._policy = policy
        self._prefix = key_prefix
        self._record_script = client.register_script(health_redis_lua.RECORD)
        self._probe_script = client.register_script(health_redis_lua.PROBE)

    @classmethod
    def from_url(
        cls, url: str, policy: HealthPolicy, key_prefix: str = DEFAULT_KEY_PREFIX, timeout_ms: int = 200
    ) -> RedisHealthStore:
        """A store with its own client, whose every call gives up after `timeout_ms`, tried at most
        twice (once more at once, for a connection Redis dropped): a slow Redis must not hold up
        payments, which carry on without health when it is away."""
        timeout_seconds = timeout_ms / 1000
        client = Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=Retry(NoBackoff(), retries=1),
        )
        return cls(client, policy, key_prefix)

    @property
    def shared(self) -> bool:
        return True

    async def record(self, processor: str, segment: str, outcome: Outcome, now: float) -> BreakerStep:
        keys, args = self._record_call(processor, segment, outcome, now)
        with _unavailable_on_error():
            reply = await self._record_script(keys=keys, args=args)
        return _step(reply, granted=False)

    def _record_call(self, processor: str, segment: str, outcome: Outcome,
                     now: float) -> tuple[list[str], list[str | int]]:
        policy = self._policy
        window_field = SEPARATOR.join((processor, segment, outcome.value)) if outcome.is_issuer_answer else ""
        window_index = health_rules.bucket_index(now, policy.window_bucket_seconds)
        calls_index = health_rules.bucket_index(now, policy.breaker_bucket_seconds)
        calls_keys = [self._calls_key(processor, calls_index - age) for age in range(policy.breaker_buckets_count)]
        keys = [self._window_key(window_index), self._breakers_key(), *calls_keys]
        args: list[str | int] = [
            window_field, policy.window_ttl_seconds, processor, repr(now), int(outcome.is_processor_failure),
            policy.breaker_bucket_ttl_seconds, policy.calls_min, repr(policy.failure_rate_max),
            repr(policy.cooldown_seconds), repr(policy.probe_timeout_seconds), self._state_ttl_seconds(),
        ]  # fmt: skip
        return keys, args

    async def record_many(self, outcomes: Sequence[Recorded]) -> list[BreakerStep]:
        """One pipelined round trip: the same atomic script per outcome, sent together by its
        digest (redis-py's script pipelining would ask SCRIPT EXISTS first, every time)."""
        calls = [self._record_call(*recorded) for recorded in outcomes]
        with _unavailable_on_error():
            replies = await self._evalsha_many(calls)
            missing = [index for index, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if missing:  # Redis restarted or its scripts were flushed: only those calls did nothing
                await self._client.script_load(health_redis_lua.RECORD)
                for index, reply in zip(missing, await self._evalsha_many([calls[i] for i in missing]), strict=True):
                    replies[index] = reply
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
        return [_step(reply, granted=False) for reply in replies]

    async def _evalsha_many(self, calls: Sequence[tuple[list[str], list[str | int]]]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for keys, args in calls:
                pipe.evalsha(self._record_script.sha, len(keys), *keys, *args)
            return list(await pipe.execute(raise_on_error=False))

    async def try_acquire_probe(self, processor: str, now: float) -> BreakerStep:
        policy = self._policy
        args: list[str | int] = [
            processor, repr(now), repr(policy.cooldown_seconds), repr(policy.probe_timeout_seconds),
            policy.probes_max, self._state_ttl_seconds(),
        ]  # fmt: skip
        with _unavailable_on_error():
            reply = await self._probe_script(keys=[self._breakers_key()], args=args)
        return _step(reply[:3], granted=int(reply[3]) == 1)

    async def read(self, now: float) -> HealthView:
        index = health_rules.bucket_index(now, self._policy.window_bucket_seconds)
        indexes = range(index - self._policy.window_buckets_count + 1, index + 1)
        with _unavailable_on_error():
            async with self._client.pipeline(transaction=False) as pipe:
                for bucket in indexes:
                    pipe.hgetall(self._window_key(bucket))
                pipe.hgetall(self._breakers_key())
                replies = await pipe.execute()
        windows = _windows(zip(indexes, replies[:-1], strict=True))
        breakers = {_text(processor): _decode(raw) for processor, raw in replies[-1].items()}
        return HealthView(windows=windows, breakers=breakers)

    async def close(self) -> None:
        await self._client.aclose()

    def _window_key(self, bucket: int) -> str:
        return f"{self._prefix}:window:{bucket}"

    def _calls_key(self, processor: str, bucket: int) -> str:
        return f"{self._prefix}:calls:{processor}:{bucket}"

    def _breakers_key(self) -> str:
        return f"{self._prefix}:breakers"

    def _state_ttl_seconds(self) -> int:
        return math.ceil(self._policy.state_ttl_seconds)


@contextmanager
def _unavailable_on_error() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as error:
        raise HealthStoreUnavailable(f"redis: {error}") from error


def _windows(buckets: Iterator[tuple[int, dict[bytes | str, bytes | str]]]) -> dict[Pair, tuple[Bucket, ...]]:
    """Regroups the per-bucket hashes into per-(processor, segment) buckets, oldest first."""
    counts: dict[Pair, dict[int, list[int]]] = {}
    for index, fields in buckets:
        for field, value in fields.items():
            processor, segment, outcome = _split(_text(field))
            bucket = counts.setdefault((processor, segment), {}).setdefault(index, [0, 0])
            bucket[0 if outcome is Outcome.APPROVED else 1] += int(value)
    return {
        pair: tuple((index, approved, declined) for index, (approved, declined) in by_index.items())
        for pair, by_index in counts.items()
    }


def _split(field: str) -> tuple[str, str, Outcome]:
    parts = field.split(SEPARATOR)
    if len(parts) != 3 or parts[2] not in (Outcome.APPROVED, Outcome.DECLINED):
        raise HealthStoreUnavailable(f"unreadable success-rate field {field!r}")
    return parts[0], parts[1], Outcome(parts[2])


def _step(encoded: Sequence[bytes | str], granted: bool) -> BreakerStep:
    before, present, after = (_decode(raw) for raw in encoded)
    return BreakerStep(before, present, after, granted)


def _decode(raw: bytes | str) -> BreakerRecord:
    parts = _text(raw).split(SEPARATOR)
    if len(parts) != 3 or parts[0] not in tuple(BreakerState):
        raise HealthStoreUnavailable(f"unreadable breaker record {raw!r}")
    return BreakerRecord(BreakerState(parts[0]), float(parts[1]), int(parts[2]))


def _text(value: bytes | str) -> str:
    """Works with clients made with or without `decode_responses`."""
    return value.decode() if isinstance(value, bytes) else value
