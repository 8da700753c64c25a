"""Recording a processor event once and acting on it.

An event is a hint, never the truth on its own: for a payment with attempts still
pending, the sweeper's resolution runs at once (it asks the processor and applies
the answer under the intent's lock). Asking rather than trusting the event makes
the order of deliveries irrelevant: an old event only triggers a fresh inquiry.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import structlog

from basketpay.db.database import Database
from basketpay.payments.sweeper import Sweeper

log = structlog.get_logger(__name__)

_RECORD = """
INSERT INTO processor_events (connector, event_id, type, object_id, payment_intent_id, received_at, outcome)
VALUES (%(connector)s, %(event_id)s, %(type)s, %(object_id)s, %(payment_intent_id)s, %(received_at)s, 'received')
ON CONFLICT (connector, event_id) DO NOTHING RETURNING id"""
_PENDING = """
SELECT id FROM payment_attempts WHERE payment_intent_id = %(intent)s AND status = 'pending' ORDER BY created_at"""
_OUTCOME = "UPDATE processor_events SET outcome = %(outcome)s WHERE connector = %(connector)s AND event_id = %(event_id)s"


async def record(database: Database, connector: str, event: Any) -> bool:
    """True for an event seen for the first time."""
    params = {
        "connector": connector, "event_id": event.event_id, "type": event.type, "object_id": event.object_id,
        "payment_intent_id": event.payment_intent_id, "received_at": dt.datetime.now(dt.UTC),
    }
    async with database.connection() as connection:
        return await (await connection.execute(_RECORD, params)).fetchone() is not None


_ATTEMPT_BY_KEY = "SELECT id FROM payment_attempts WHERE processor_idempotency_key = %(key)s"


async def apply_answer(database: Database, sweeper: Sweeper, connector: str, notification: Any) -> str:
    """A notification that carries the processor's answer to one attempt (Adyen)."""
    result = notification.result()
    async with database.connection() as connection:
        row = await (await connection.execute(_ATTEMPT_BY_KEY, {"key": notification.attempt_key})).fetchone()
    if result is None:
        outcome = "ignored"
    elif row is None:
        outcome = "no_such_attempt"
    else:
        outcome = await sweeper.apply_answer(row.id, result)
    await _set_outcome(database, connector, notification.event_id, outcome)
    return outcome


async def _set_outcome(database: Database, connector: str, event_id: str, outcome: str) -> None:
    async with database.connection() as connection:
        await connection.execute(_OUTCOME, {"outcome": outcome, "connector": connector, "event_id": event_id})
    log.info("processor_event", connector=connector, event_id=event_id, outcome=outcome)


async def resolve_pending(database: Database, sweeper: Sweeper, connector: str, event: Any) -> str:
    if event.payment_intent_id is None:
        outcome = "ignored"
    else:
        async with database.connection() as connection:
            rows = await (await connection.execute(_PENDING, {"intent": event.payment_intent_id})).fetchall()
        outcomes = [await sweeper.resolve(row.id) for row in rows]
        outcome = ",".join(outcomes) or "nothing_pending"
    await _set_outcome(database, connector, event.event_id, outcome)
    return outcome
