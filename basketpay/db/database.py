"""The service's connection pool (psycopg 3, async) and its two ways in: a single
autocommit statement, or a transaction.

Why psycopg directly and not SQLAlchemy's async engine on the hot path: on the CI
machine one indexed SELECT costs about 95 µs of client CPU through psycopg, 205 µs
through SQLAlchemy `text()`, and 425 µs through a Core `select()` (measured with
/tmp scripts recorded in the README's performance section). A payment operation is
a handful of statements, so that difference decides the throughput. SQLAlchemy
still defines the schema (Alembic migrations and the model/migration check come
from it), runs the CLI and the tests' assertions.
"""

from __future__ import annotations

import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

import orjson
import structlog
from psycopg import AsyncConnection, _queries
from psycopg.rows import namedtuple_row
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool

from basketpay.db.engine import database_url, libpq_url
from basketpay.invariant import InvariantViolation
from basketpay.settings import Settings

PREPARE_THRESHOLD = 2  # server-side prepare a statement from its second use: less parsing per call
POOL_TIMEOUT_SECONDS = 10.0
_HOLDING: ContextVar[bool] = ContextVar("basketpay_holding_pool_connection", default=False)
log = structlog.get_logger(__name__)

set_json_loads(orjson.loads)
set_json_dumps(orjson.dumps)

# psycopg caches the conversion of a query's %(name)s placeholders only for statements
# up to 4096 characters and 50 parameters; a phase's single statement is bigger (the
# intent alone has 25 columns), and was re-parsed on every call (~6% of server CPU).
# The number of statement shapes is small and fixed, so the cache stays small.
_queries.MAX_CACHED_STATEMENT_LENGTH = 32_768
_queries.MAX_CACHED_STATEMENT_PARAMS = 256

Connection = AsyncConnection  # rows come back as named tuples: row.id, row.status, ...


class Database:
    def __init__(self, settings: Settings) -> None:
        self._url = libpq_url(database_url(settings))
        self._nested = settings.database_nested_connections
        self._pool = AsyncConnectionPool(
            self._url,
            min_size=min(2, settings.database_pool_size),
            max_size=settings.database_pool_size,
            kwargs={"autocommit": True, "row_factory": namedtuple_row, "prepare_threshold": PREPARE_THRESHOLD},
            timeout=POOL_TIMEOUT_SECONDS,
            open=False,
        )

    async def open(self) -> Database:
        await self._pool.open(wait=True)
        return self

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """Autocommit: each statement is its own transaction."""
        with self._held():
            async with self._pool.connection() as connection:
                yield connection

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection[Any]]:
        """One transaction: committed when the block ends normally, rolled back on any exception."""
        with self._held():
            async with self._pool.connection() as connection, connection.transaction():
                yield connection

    @contextmanager
    def _held(self) -> Iterator[None]:
        """A task holding a pool connection must not wait for a second one: with every connection
        held by a task waiting for another, nothing moves until the pool times out. Pass the
        held connection down instead."""
        if _HOLDING.get():
            if self._nested == "error":
                raise InvariantViolation("a second pool connection taken while holding one (pass the held one)")
            log.warning("database_connection_nested", stack="".join(traceback.format_stack(limit=8)))
        token = _HOLDING.set(True)
        try:
            yield
        finally:
            _HOLDING.reset(token)

    @asynccontextmanager
    async def batch_transaction(self, **server_settings: str) -> AsyncIterator[AsyncConnection[Any]]:
        """One transaction on a connection of its own (not the pool's), opened with these server
        settings for its whole session: for a batch job that needs session-wide settings such as
        temp_buffers, which a pooled connection may already have fixed. Rolled back on any exception."""
        options = " ".join(f"-c {name}={value}" for name, value in server_settings.items())
        connection = await AsyncConnection.connect(self._url, options=options, row_factory=namedtuple_row,
                                                   prepare_threshold=None)
        try:
            async with connection.transaction():
                yield connection
        finally:
            await connection.close()
