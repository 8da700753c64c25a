"""What the payment path reads per merchant on every authorization (the routing config in
force, the running experiment), kept in each process for a few seconds: a change reaches
every process within that time, and a payment costs no query for it.

A caller that holds a pool connection passes it for the read: taking a second one while
holding the first deadlocks a busy process (every connection held by a request waiting for
another, until the pool times out)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from psycopg import AsyncConnection

from basketpay.db.database import Database

T = TypeVar("T")
CACHE_SECONDS = 2.0


class PerMerchant(Generic[T]):
    def __init__(self, database: Database, read: Callable[[AsyncConnection[Any], str], Awaitable[T]]) -> None:
        self._database = database
        self._read = read
        self._values: dict[str, tuple[float, T]] = {}

    async def get(self, merchant_id: str, connection: AsyncConnection[Any] | None = None) -> T:
        cached = self._values.get(merchant_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        if connection is not None:
            value = await self._read(connection, merchant_id)
        else:
            async with self._database.connection() as own:
                value = await self._read(own, merchant_id)
        self._values[merchant_id] = (now, value)
        return value

    def forget(self, merchant_id: str) -> None:
        """This process changed it: read it afresh next time."""
        self._values.pop(merchant_id, None)
