from __future__ import annotations

import pytest

from basketpay.api.ratelimit import RateLimiter
from basketpay.errors import RateLimited


def test_burst_then_refused_per_merchant() -> None:
    limiter = RateLimiter(requests_per_second=0.001, burst_max=2)
    limiter.take("a")
    limiter.take("a")
    with pytest.raises(RateLimited):
        limiter.take("a")
    limiter.take("b")
