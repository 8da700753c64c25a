"""Importing a retailer's point-of-sale feed: parse it, match its purchases to the orders'
card authorizations, and store the feed, each line's outcome and the summary, all in one
transaction. A rejected file writes nothing; the same content again writes nothing and
returns the feed it was imported as."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from basketpay.db.database import Database
from basketpay.ids import new_id
from basketpay.reconciliation.pos import feeds, queries
from basketpay.reconciliation.pos.matching import NEARBY_SECONDS, MatchWindow, match
from basketpay.reconciliation.pos.parser import StoreTransaction, read_feed
from basketpay.reconciliation.pos.summary import summarize, without_purchase


@dataclass(frozen=True, slots=True)
class PosFeedResult:
    feed: dict[str, Any]  # feeds.feed_json: id, name, sha256, rows, summary, created
    created: bool  # False: the same content was imported before, as this feed


class _Hashed:
    """The lines, passed through, with the sha256 of what went by."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = lines
        self.digest = hashlib.sha256()

    def __iter__(self) -> Iterator[str]:
        for line in self._lines:
            self.digest.update(line.encode())
            yield line


async def import_pos_feed(db: Database, merchant_id: str, name: str, lines: Iterable[str],
                          window: MatchWindow | None = None) -> PosFeedResult:
    """Import a feed (raises `FileRejected` for a bad file, having written nothing). The window
    applies to a new feed only: content imported before comes back as it was matched then."""
    window = window or MatchWindow()
    async with db.transaction() as connection:
        content = _Hashed(lines)
        parsed = list(read_feed(content, await queries.default_currency(connection, merchant_id)))
        sha256 = content.digest.hexdigest()
        existing = await feeds.find_by_content(connection, merchant_id, sha256)
        if existing is not None:
            return PosFeedResult(feeds.feed_json(existing), created=False)
        outcomes, summary = await _reconcile(connection, merchant_id, parsed, window)
        feed_id = new_id("posf")
        row = await feeds.insert(connection, {"id": feed_id, "merchant_id": merchant_id, "name": name,
                                              "sha256": sha256, "rows": len(parsed), "summary": summary})
        if row is None:  # the same content, imported by a request that committed while this one ran
            raced = await feeds.find_by_content(connection, merchant_id, sha256)
            return PosFeedResult(feeds.feed_json(raced), created=False)
        await feeds.write_transactions(connection, feed_id, merchant_id, parsed, outcomes)
    return PosFeedResult(feeds.feed_json(row), created=True)


async def _reconcile(connection: AsyncConnection[Any], merchant_id: str, parsed: list[StoreTransaction],
                     window: MatchWindow) -> tuple[dict[int, Any], dict[str, Any]]:
    """Each line's outcome, and the feed's summary."""
    if not parsed:
        return {}, summarize(parsed, {}, [], window)
    nearby = dt.timedelta(seconds=NEARBY_SECONDS)
    since = min(item.occurred_at for item in parsed) - dt.timedelta(seconds=window.window_seconds) - nearby
    until = max(item.occurred_at for item in parsed) + nearby
    authorizations = await queries.card_authorizations(connection, merchant_id, since, until)
    claimed = await queries.claimed_orders(connection, merchant_id,
                                           sorted({item.order_id for item in authorizations}))
    outcomes = match(parsed, authorizations, window,
                     {order: where for order, where in claimed.items() if where["status"] == "matched"})
    explained = {outcome.order_id for outcome in outcomes.values() if outcome.order_id} | set(claimed)
    missing = without_purchase(authorizations, parsed, explained)
    return outcomes, summarize(parsed, outcomes, missing, window)
