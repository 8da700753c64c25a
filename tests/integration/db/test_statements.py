"""WriteBatch: one statement, atomic, and nothing runs past a guard that found nothing to do."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import Engine, func, select

from basketpay.db.database import Database
from basketpay.db.statements import WriteBatch
from basketpay.ids import new_id
from basketpay.outbox.tables import events
from basketpay.payments.tables import payment_intents
from basketpay.settings import Settings


def intent_row(merchant_id: str) -> dict[str, Any]:
    return {
        "id": new_id("pi"), "merchant_id": merchant_id, "version": 1, "status": "requires_payment_method",
        "amount": 100, "currency": "usd", "capture_method": "manual", "metadata": {"k": "v"}, "off_session": False,
        "amount_authorized": 0, "amount_capturable": 0, "amount_received": 0, "amount_refunded": 0,
        "created_at": dt.datetime.now(dt.UTC),
    }


def run(settings: Settings, batch: WriteBatch) -> tuple[int, ...]:
    async def go() -> tuple[int, ...]:
        database = await Database(settings).open()
        try:
            async with database.connection() as connection:
                statement, params = batch.statement()
                row = await (await connection.execute(statement, params)).fetchone()
                return tuple(row)
        finally:
            await database.close()

    return asyncio.run(go())


def count(engine: Engine, table: Any, object_id: str) -> int:
    column = table.c.object_id if table is events else table.c.id
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).where(column == object_id)) or 0)


def test_dependents_run_when_the_guard_writes(settings: Settings, engine: Engine, merchant: tuple[str, str]) -> None:
    row = intent_row(merchant[0])
    event = {"id": new_id("evt"), "merchant_id": merchant[0], "type": "t", "object_id": row["id"], "data": {"a": 1}}
    batch = WriteBatch().guard_insert(payment_intents, row, ("id",)).then_insert(events, event)
    assert run(settings, batch) == (1,)
    assert (count(engine, payment_intents, row["id"]), count(engine, events, row["id"])) == (1, 1)


def test_nothing_runs_past_a_guard_that_found_nothing(settings: Settings, engine: Engine, merchant: tuple[str, str]) -> None:
    row = intent_row(merchant[0])
    run(settings, WriteBatch().guard_insert(payment_intents, row, ("id",)))
    stale = WriteBatch().guard_update(payment_intents, {"amount": 999, "version": 2}, {"id": row["id"], "version": 7})
    event = {"id": new_id("evt"), "merchant_id": merchant[0], "type": "t", "object_id": row["id"], "data": {}}
    stale.then_insert(events, event)
    assert run(settings, stale) == (0,)
    assert count(engine, events, row["id"]) == 0
    with engine.connect() as connection:
        assert connection.scalar(select(payment_intents.c.amount).where(payment_intents.c.id == row["id"])) == 100


def test_a_failing_write_undoes_the_whole_statement(settings: Settings, engine: Engine, merchant: tuple[str, str]) -> None:
    row = intent_row(merchant[0])
    broken = {**intent_row(merchant[0]), "amount": -1}  # violates amount_positive
    batch = WriteBatch().guard_insert(payment_intents, row, ("id",)).then_insert(payment_intents, broken)
    try:
        run(settings, batch)
    except Exception as error:
        assert "amount_positive" in str(error)
    else:
        raise AssertionError("the constraint should have failed the statement")
    assert count(engine, payment_intents, row["id"]) == 0
