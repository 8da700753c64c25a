"""Point-in-time balances from snapshots plus the postings after them agree with summing
every posting, at any time, before and after boundaries; and the read really uses the
snapshot (changing it changes the answer)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import Engine, text

from basketpay.db.database import Database
from basketpay.ledger.snapshots import BALANCE_AS_OF, boundaries_due, snapshot_once
from basketpay.settings import Settings
from tests.integration.ledger.test_database_rules import BUCKETS, COLUMNS, PROVISION

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def test_boundaries_due_are_aligned_bounded_and_wait_out_the_lag() -> None:
    now = T0 + 5 * HOUR + dt.timedelta(minutes=3)
    assert boundaries_due(None, now, 3600, 300) == [T0 + 4 * HOUR]  # 5:00 is not 5 minutes old yet
    assert boundaries_due(T0 + 2 * HOUR, now, 3600, 0) == [T0 + 3 * HOUR, T0 + 4 * HOUR, T0 + 5 * HOUR]
    assert len(boundaries_due(T0 - 1000 * HOUR, now, 3600, 0)) == 48


def post_at(engine: Engine, merchant: str, debit: str, credit: str, amount: int, at: dt.datetime, n: int) -> None:
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO ledger_entries (id, merchant_id, kind, created_at) "
                                "VALUES (:id, :m, 'manual', :at)"), {"id": f"le_snap_{merchant}_{n}", "m": merchant,
                                                                     "at": at})
        rows = [(debit, amount), (credit, -amount)]
        values = ", ".join(f"(:e, :m, :a{i}, 'USD', 0, 0, :x{i})" for i in range(2))
        params: dict[str, Any] = {"e": f"le_snap_{merchant}_{n}", "m": merchant, "at": at}
        params.update({f"a{i}": account for i, (account, _) in enumerate(rows)})
        params.update({f"x{i}": value for i, (_, value) in enumerate(rows)})
        connection.execute(text(f"INSERT INTO ledger_postings ({', '.join(COLUMNS)}, created_at) "
                                f"SELECT *, :at FROM (VALUES {values}) v"), params)


def test_as_of_balances_from_snapshots_match_the_postings(own_engine: Engine, own_settings: Settings) -> None:
    """In a database of its own: the server's sweeper snapshots the shared one as it runs."""
    from basketpay.merchants.service import create_merchant

    engine, settings = own_engine, own_settings
    with engine.begin() as connection:
        m = create_merchant(connection, "snapshots").merchant_id
    cash, revenue = f"la_snapcash_{m}", f"la_snaprev_{m}"
    with engine.begin() as connection:
        for account, type_, normal in ((cash, "asset", "debit"), (revenue, "revenue", "credit")):
            values = {"id": account, "merchant": m, "code": account, "type": type_, "normal": normal,
                      "guard": "none", "buckets": 1}
            connection.execute(text(PROVISION), values)
            connection.execute(text(BUCKETS), values)
    times = [T0 + dt.timedelta(minutes=25 * n) for n in range(12)]  # 0:00 .. 4:35
    for n, at in enumerate(times):
        post_at(engine, m, cash, revenue, 100 * (n + 1), at, n)

    async def scenario() -> tuple[int, list[int], int]:
        database = await Database(settings).open()
        try:
            written = await snapshot_once(database, 3600, 0, now=T0 + HOUR)  # the first boundary: 1:00
            written += await snapshot_once(database, 3600, 0, now=T0 + 5 * HOUR)  # then 2:00 .. 5:00
            probes = [T0 + dt.timedelta(minutes=minute) for minute in (0, 59, 60, 61, 125, 180, 299)]
            async with database.connection() as connection:
                answers = []
                for probe in probes:
                    row = await (await connection.execute(BALANCE_AS_OF, {"id": cash, "as_of": probe})).fetchone()
                    answers.append(row.posted)
                await connection.execute("UPDATE ledger_balance_snapshots SET posted = posted + 1 "
                                         "WHERE account_id = %s AND as_of = %s", (cash, T0 + 2 * HOUR))
                tampered = await (await connection.execute(
                    BALANCE_AS_OF, {"id": cash, "as_of": T0 + dt.timedelta(minutes=125)})).fetchone()
            return written, answers, tampered.posted
        finally:
            await database.close()

    written, answers, tampered = asyncio.run(scenario())
    expected = [sum(100 * (n + 1) for n, at in enumerate(times) if at <= T0 + dt.timedelta(minutes=minute))
                for minute in (0, 59, 60, 61, 125, 180, 299)]
    assert written == 5 and answers == expected
    assert tampered == expected[4] + 1  # the read starts from the 2:00 snapshot
