"""Reconciliation as the API, the CLI and the daily pull use it: import files, then run
over what waits for each processor they belong to; read runs and breaks; resolve a break."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from basketpay.db.database import Database
from basketpay.errors import NotFound
from basketpay.reconciliation import resolution
from basketpay.reconciliation.ingest import Imported, import_file
from basketpay.reconciliation.runs import RunOptions, reconcile
from basketpay.settings import Settings

__all__ = ["Reconciliation", "run_with"]

T = TypeVar("T")

_RUN = "SELECT * FROM reconciliation_runs WHERE id = %s AND merchant_id = %s"
_RUNS = "SELECT * FROM reconciliation_runs WHERE merchant_id = %s ORDER BY seq DESC LIMIT %s"
_BREAKS = """SELECT * FROM reconciliation_breaks WHERE merchant_id = %(merchant_id)s
AND (%(run_id)s::text IS NULL OR run_id = %(run_id)s)
AND (%(status)s::text IS NULL OR status = %(status)s OR (%(status)s = 'unresolved' AND status <> 'resolved'))
AND (%(category)s::text IS NULL OR category = %(category)s)
ORDER BY seq LIMIT %(limit)s"""


class Reconciliation:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.options = RunOptions.from_settings(settings)

    async def import_files(self, merchant_id: str, paths: Sequence[Path], source: str,
                           names: Sequence[str] | None = None) -> list[Imported]:
        """Import each file (all or nothing per file; a rejected file raises FileRejected)."""
        names = names or [path.name for path in paths]
        return [await import_file(self.database, merchant_id, path, source=source, name=name)
                for path, name in zip(paths, names, strict=True)]

    async def run(self, merchant_id: str, processor: str) -> dict[str, Any] | None:
        return await reconcile(self.database, merchant_id, processor, self.options)

    async def reconcile_files(self, merchant_id: str, paths: Sequence[Path], source: str,
                              names: Sequence[str] | None = None) -> tuple[list[Imported], list[dict[str, Any]]]:
        """Import, then one run per processor the files belong to (a file already reconciled
        adds nothing: the run has nothing new and is skipped)."""
        imported = await self.import_files(merchant_id, paths, source, names)
        summaries = []
        for processor in sorted({item.processor for item in imported}):
            if (summary := await self.run(merchant_id, processor)) is not None:
                summaries.append(summary)
        return imported, summaries

    async def get_run(self, merchant_id: str, run_id: str) -> Any:
        async with self.database.connection() as connection:
            row = await (await connection.execute(_RUN, (run_id, merchant_id))).fetchone()
        if row is None:
            raise NotFound(f"No such reconciliation run: {run_id}", param="id")
        return row

    async def runs(self, merchant_id: str, limit: int) -> list[Any]:
        async with self.database.connection() as connection:
            return await (await connection.execute(_RUNS, (merchant_id, limit))).fetchall()

    async def breaks(self, merchant_id: str, *, run_id: str | None = None, status: str | None = None,
                     category: str | None = None, limit: int = 100) -> list[Any]:
        params = {"merchant_id": merchant_id, "run_id": run_id, "status": status, "category": category,
                  "limit": limit}
        async with self.database.connection() as connection:
            return await (await connection.execute(_BREAKS, params)).fetchall()

    async def resolve(self, merchant_id: str, break_id: str, action: str, reason: str | None, actor: str) -> Any:
        return await resolution.resolve(self.database, merchant_id, break_id, action, reason, actor,
                                        self.options.hot_buckets)


def run_with(settings: Settings, work: Callable[[Reconciliation], Awaitable[T]]) -> T:
    """Run `work` with a Reconciliation on its own database pool (the CLI, scripts, tests)."""

    async def main() -> T:
        database = await Database(settings).open()
        try:
            return await work(Reconciliation(database, settings))
        finally:
            await database.close()

    return asyncio.run(main())
