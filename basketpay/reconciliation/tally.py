"""What a file holds, counted while it streams in: its lines, the span of their booking
dates, and per batch and currency the lines' gross, fees and net and what the payout
lines paid. Stored with the file, so a run reads a batch's totals without scanning its
lines again (a million-line file is counted once, at import).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from psycopg import AsyncConnection

from basketpay.reconciliation.formats.rows import SettlementRow

__all__ = ["BatchTotals", "FileTally", "merge_batches", "whole_batches"]


@dataclass(slots=True)
class BatchTotals:
    lines: int = 0  # lines other than payouts
    gross: int = 0
    fees: int = 0
    net: int = 0
    payouts: int = 0  # payout lines
    paid: int = 0  # what the payout lines paid to the bank (positive)

    def add(self, other: BatchTotals) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(slots=True)
class FileTally:
    rows: int = 0
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    batches: dict[tuple[str, str], BatchTotals] = field(default_factory=dict)

    def add(self, row: SettlementRow) -> None:
        self.rows += 1
        if self.first is None or row.booked_at < self.first:
            self.first = row.booked_at
        if self.last is None or row.booked_at > self.last:
            self.last = row.booked_at
        totals = self.batches.get((row.batch, row.currency))
        if totals is None:
            totals = self.batches[(row.batch, row.currency)] = BatchTotals()
        if row.kind == "payout":
            totals.payouts += 1
            totals.paid -= row.net
        else:
            totals.lines += 1
            totals.gross += row.gross
            totals.fees += row.fee
            totals.net += row.net

    def merge(self, other: FileTally) -> None:
        """Add another part of the same file (split_parse.py)."""
        self.rows += other.rows
        for when in (other.first, other.last):
            if when is not None:
                self.first = when if self.first is None else min(self.first, when)
                self.last = when if self.last is None else max(self.last, when)
        for key, totals in other.batches.items():
            self.batches.setdefault(key, BatchTotals()).add(totals)

    def batches_json(self) -> list[dict[str, Any]]:
        return [{"batch": batch, "currency": currency, **{name: getattr(totals, name) for name in totals.__slots__}}
                for (batch, currency), totals in sorted(self.batches.items())]


def merge_batches(files: Iterable[list[dict[str, Any]]]) -> dict[tuple[str, str], BatchTotals]:
    """The batches of several files' tallies (a batch may span files: Stripe's payouts report)."""
    merged: dict[tuple[str, str], BatchTotals] = {}
    for batches in files:
        for item in batches:
            key = (item["batch"], item["currency"])
            merged.setdefault(key, BatchTotals()).add(
                BatchTotals(**{name: item[name] for name in BatchTotals.__slots__}))
    return dict(sorted(merged.items()))


_WHOLE_BATCHES = """
SELECT b AS item FROM settlement_files f, jsonb_array_elements(f.batches) AS b
WHERE f.merchant_id = %(merchant_id)s AND f.processor = %(processor)s AND b->>'batch' = ANY(%(batches)s)"""


async def whole_batches(connection: AsyncConnection[Any], params: dict[str, Any],
                        batches: dict[tuple[str, str], BatchTotals]) -> dict[tuple[str, str], BatchTotals]:
    """These batches' totals over every file imported so far, this run's and earlier runs' (a
    Stripe payout's lines and its payout line come in two files, which may be imported apart)."""
    query = {**params, "batches": sorted({batch for batch, _ in batches})}
    rows = await (await connection.execute(_WHOLE_BATCHES, query)).fetchall()
    return merge_batches([[row.item for row in rows]])
