"""The unit of work: one database transaction per business step.

    async with UnitOfWork(engine) as uow:
        ...
        await uow.commit()

Leaving the block without `commit()` rolls back, so an exception anywhere
writes nothing.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction


class UnitOfWork:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._transaction: AsyncTransaction | None = None

    @property
    def connection(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection

    async def __aenter__(self) -> UnitOfWork:
        self._connection = await self._engine.connect()
        self._transaction = await self._connection.begin()
        return self

    async def commit(self) -> None:
        if self._transaction is None:
            raise RuntimeError("the unit of work is not open")
        await self._transaction.commit()
        self._transaction = None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._transaction is not None:
                await self._transaction.rollback()
        finally:
            await self.connection.close()
            self._connection = self._transaction = None
