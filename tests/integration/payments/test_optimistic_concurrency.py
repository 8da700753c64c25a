"""Two writers that loaded the same version of an intent: the second save is refused."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from psycopg.rows import namedtuple_row

from basketpay.db.engine import libpq_url
from basketpay.errors import Conflict
from basketpay.payments import repository
from tests.helpers import authorized


def test_a_stale_writer_cannot_overwrite(client, merchant, database_url) -> None:  # type: ignore[no-untyped-def]
    intent_id = authorized(client, 1000)["id"]

    async def race() -> None:
        url = libpq_url(database_url)
        async with await psycopg.AsyncConnection.connect(url, row_factory=namedtuple_row) as first, \
                await psycopg.AsyncConnection.connect(url, row_factory=namedtuple_row) as second:
            mine = await repository.load_intent(first, merchant[0], intent_id)
            theirs = await repository.load_intent(second, merchant[0], intent_id)
            mine.description = "first writer"
            await repository.save_intent(first, mine)
            await first.commit()
            theirs.description = "second writer"
            with pytest.raises(Conflict):
                await repository.save_intent(second, theirs)
            await second.rollback()

    asyncio.run(race())
    assert client.get(f"/v1/payment_intents/{intent_id}").json()["description"] == "first writer"
