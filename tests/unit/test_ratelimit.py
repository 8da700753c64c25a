from __future__ import annotations

import asyncio

import pytest

from basketpay.api.ratelimit import RateLimiter
from basketpay.errors import RateLimited


def test_burst_then_refused_per_merchant() -> None:
    async def main() -> None:
        limiter = RateLimiter(requests_per_second=0.001, burst_max=2)
        await limiter.take("a")
        await limiter.take("a")
        with pytest.raises(RateLimited):
            await limiter.take("a")
        await limiter.take("b")

    asyncio.run(main())
