"""The ageing in a run's summary: every unresolved break with money at stake, by age and
currency, counted and summed in the database (a run may leave a million breaks)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from basketpay.db.database import Database
from basketpay.merchants.service import create_merchant
from basketpay.reconciliation.summary import ageing
from basketpay.settings import Settings

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
_INSERT = text("""
INSERT INTO reconciliation_breaks (id, merchant_id, run_id, processor, category, status, currency, amount, difference,
                                   occurred_at, detail)
VALUES (:id, :merchant, 'rr_test', :processor, 'missing_in_books', :status, :currency, 0, :difference, :at, '{}')""")


def _break(connection: Connection, merchant: str, age: dt.timedelta, difference: int, *, currency: str = "USD",
           status: str = "open", processor: str = "stripe") -> None:
    connection.execute(_INSERT, {"id": f"rb_{uuid.uuid4().hex}", "merchant": merchant, "processor": processor,
                                 "status": status, "currency": currency, "difference": difference, "at": NOW - age})


def test_breaks_age_into_buckets_by_currency(engine: Engine, settings: Settings) -> None:
    hours, days = dt.timedelta(hours=1), dt.timedelta(days=1)
    with engine.begin() as connection:
        merchant = create_merchant(connection, "ageing").merchant_id
        for age, difference in ((2 * hours, 100), (23 * hours, -250), (2 * days, 40), (5 * days, 7),
                                (6 * days + 23 * hours, 3), (10 * days, -1000), (40 * days, 5)):
            _break(connection, merchant, age, difference)
        _break(connection, merchant, 2 * hours, 900, currency="EUR")
        _break(connection, merchant, 2 * hours, 111, status="resolved")  # resolved: not unreconciled
        _break(connection, merchant, 2 * hours, 0)  # nothing at stake (a timing break)
        _break(connection, merchant, 2 * hours, 222, processor="adyen")  # other books

    async def read() -> list[dict[str, object]]:
        database = await Database(settings).open()
        try:
            async with database.connection() as db:
                return await ageing(db, {"merchant_id": merchant, "processor": "stripe"}, NOW)
        finally:
            await database.close()

    assert asyncio.run(read()) == [
        {"age": "0-1 d", "currency": "EUR", "count": 1, "amount": 900},
        {"age": "0-1 d", "currency": "USD", "count": 2, "amount": 350},
        {"age": "1-3 d", "currency": "USD", "count": 1, "amount": 40},
        {"age": "3-7 d", "currency": "USD", "count": 2, "amount": 10},
        {"age": "7-30 d", "currency": "USD", "count": 1, "amount": 1000},
        {"age": "30+ d", "currency": "USD", "count": 1, "amount": 5},
    ]
