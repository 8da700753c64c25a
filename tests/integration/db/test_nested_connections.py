"""A task that holds a pool connection and waits for another deadlocks a busy process (every
connection held by a task waiting for one more, until the pool times out). The pool refuses
it in the tests (and CI) and logs it in production; tasks of their own may each hold one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from structlog.testing import capture_logs

from basketpay.db.database import Database
from basketpay.invariant import InvariantViolation
from basketpay.settings import Settings


def _with_database(settings: Settings, mode: str, body: Callable[[Database], Awaitable[None]]) -> None:
    async def go() -> None:
        database = await Database(settings.model_copy(update={"database_nested_connections": mode})).open()
        try:
            await body(database)
        finally:
            await database.close()

    asyncio.run(go())


def test_a_second_connection_while_holding_one_is_refused(settings: Settings) -> None:
    async def nested(database: Database) -> None:
        async with database.transaction() as connection:
            await connection.execute("SELECT 1")
            with pytest.raises(InvariantViolation, match="second pool connection"):
                async with database.connection():
                    pass
        async with database.connection() as connection:  # released: the next one is fine
            await connection.execute("SELECT 1")

    _with_database(settings, "error", nested)


def test_concurrent_tasks_each_hold_their_own(settings: Settings) -> None:
    async def one(database: Database) -> int:
        async with database.connection() as connection:
            await asyncio.sleep(0.01)
            row = await (await connection.execute("SELECT 1 AS one")).fetchone()
            return int(row.one)

    async def many(database: Database) -> None:
        assert await asyncio.gather(*(one(database) for _ in range(5))) == [1] * 5

    _with_database(settings, "error", many)


def test_in_production_it_is_logged_and_allowed(settings: Settings) -> None:
    async def nested(database: Database) -> None:
        async with database.connection():
            with capture_logs() as logs:
                async with database.connection() as inner:
                    await inner.execute("SELECT 1")
        assert [entry["event"] for entry in logs] == ["database_connection_nested"]

    _with_database(settings, "warn", nested)
