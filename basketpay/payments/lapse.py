"""Authorizations past their expiry (by brand and initiator, payments/expiry.py): the
issuer has released the money, so basketpay's record follows — the intent is canceled
(`automatic`) or, if partly captured, succeeds with what it captured — and the rest of
its ledger hold is released, in one transaction per intent. Run by the sweeper, a
bounded batch per pass, skipping intents another process holds."""

from __future__ import annotations

from typing import Any

from basketpay.db.database import Database
from basketpay.ledger.payment_postings import Amounts, PaymentPostings
from basketpay.outbox.writer import event_row, record_events
from basketpay.payments import repository
from basketpay.payments.phases import utc_now
from basketpay.payments.serializers import intent_json

_LAPSED = """
SELECT id, merchant_id FROM payment_intents
WHERE status = 'requires_capture' AND in_flight_attempt_id IS NULL AND authorization_expires_at < now()
ORDER BY authorization_expires_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED"""


async def expire_authorizations(database: Database, postings: PaymentPostings, batch_size_max: int) -> int:
    async with database.transaction() as connection:
        lapsed = await (await connection.execute(_LAPSED, {"limit": batch_size_max})).fetchall()
        for row in lapsed:
            await _expire(connection, postings, row)
    return len(lapsed)


async def _expire(connection: Any, postings: PaymentPostings, row: Any) -> None:
    intent = await repository.load_intent(connection, row.merchant_id, row.id, for_update=True)
    before, now = Amounts.of(intent), utc_now()
    intent.expire_authorization(now)
    await repository.save_intent(connection, intent)
    write = postings.for_expiry(intent, before)
    if write is not None:
        await write.write(connection, now)
    event_type = "payment_intent.canceled" if intent.amount_received == 0 else "payment_intent.succeeded"
    await record_events(connection, [event_row(intent.merchant_id, event_type, intent.id, intent_json(intent))])
