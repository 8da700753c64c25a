"""Two writers that loaded the same version of an intent: the second save is refused."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from basketpay.errors import Conflict
from basketpay.payments import repository
from tests.helpers import authorized


def test_a_stale_writer_cannot_overwrite(client, merchant, database_url) -> None:  # type: ignore[no-untyped-def]
    intent_id = authorized(client, 1000)["id"]

    async def race() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as first, engine.connect() as second:
                mine = await repository.load_intent(first, merchant[0], intent_id)
                theirs = await repository.load_intent(second, merchant[0], intent_id)
                mine.description = "first writer"
                await repository.save_intent(first, mine)
                await first.commit()
                theirs.description = "second writer"
                with pytest.raises(Conflict):
                    await repository.save_intent(second, theirs)
                await second.rollback()
        finally:
            await engine.dispose()

    asyncio.run(race())
    assert client.get(f"/v1/payment_intents/{intent_id}").json()["description"] == "first writer"
