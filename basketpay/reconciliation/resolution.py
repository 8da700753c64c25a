"""Resolving a break, once, with an audit entry:

  accept      the processor's figure stands: clearing moves by the break's legs against
              settlement_adjustments (a fee discrepancy: against the processor's fees)
  write_off   the difference is lost (or found): against settlement_write_offs
  ignore      no money moves (a timing break, a known cause); a reason is required

Each leg is (currency, amount to move into clearing); the entry is posted in the same
transaction as the break's new state, so a break is never resolved without its entry.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import AsyncConnection

from basketpay.audit.entries import entry as audit_entry
from basketpay.audit.entries import record as audit_record
from basketpay.db.database import Database
from basketpay.errors import Conflict, InvalidRequest, NotFound
from basketpay.ledger import chart
from basketpay.ledger.batch import insert_entries
from basketpay.ledger.posting import Entry, Posting
from basketpay.reconciliation.postings import moves

__all__ = ["ACTIONS", "resolve"]

ACTIONS = ("accept", "write_off", "ignore")
_LOAD = "SELECT * FROM reconciliation_breaks WHERE id = %s AND merchant_id = %s FOR UPDATE"
_RESOLVE = """UPDATE reconciliation_breaks SET status = 'resolved', resolution = %(resolution)s, reason = %(reason)s,
ledger_entry_id = %(entry_id)s, resolved_at = %(now)s WHERE id = %(id)s RETURNING *"""


def _counter_account(row: Any, action: str) -> str:
    if action == "accept":
        return chart.processor_fees(row.processor) if row.category == "fee_discrepancy" else "settlement_adjustments"
    return "settlement_write_offs"


async def _post(connection: AsyncConnection[Any], row: Any, action: str, hot_buckets: int) -> str | None:
    postings: list[Posting] = []
    clearing, other = chart.processor_clearing(row.processor), _counter_account(row, action)
    for currency, amount in row.detail.get("legs", []):
        if amount:
            await chart.provision(connection, row.merchant_id, currency, [row.processor], hot_buckets)
            postings += moves(row.merchant_id, currency, clearing, other, int(amount))
    if not postings:
        return None
    entry = Entry(row.merchant_id, f"reconciliation.{action}", postings, object_id=row.id,
                  description=f"{action.replace('_', ' ')} {row.category.replace('_', ' ')} break {row.id}")
    await insert_entries(connection, [entry])
    return entry.id


def _check(row: Any, action: str, reason: str | None) -> None:
    if action not in ACTIONS:
        raise InvalidRequest(f"action must be one of {', '.join(ACTIONS)}", param="action")
    if action == "ignore" and not (reason and reason.strip()):
        raise InvalidRequest("ignoring a break needs a reason", param="reason")
    if row.status == "resolved":
        raise Conflict(f"break {row.id} is already resolved ({row.resolution})", code="break_resolved")


async def resolve(db: Database, merchant_id: str, break_id: str, action: str, reason: str | None, actor: str,
                  hot_buckets: int) -> Any:
    """The resolved break row; 404 for another merchant's, 409 if already resolved."""
    async with db.transaction() as connection:
        row = await (await connection.execute(_LOAD, (break_id, merchant_id))).fetchone()
        if row is None:
            raise NotFound(f"No such break: {break_id}", param="id")
        _check(row, action, reason)
        entry_id = None if action == "ignore" else await _post(connection, row, action, hot_buckets)
        params = {"id": break_id, "resolution": action, "reason": reason, "entry_id": entry_id,
                  "now": dt.datetime.now(dt.UTC)}
        resolved = await (await connection.execute(_RESOLVE, params)).fetchone()
        await audit_record(connection, audit_entry(actor, "reconciliation.break.resolve", break_id, detail={
            "action": action, "reason": reason, "category": row.category, "ledger_entry_id": entry_id,
            "legs": row.detail.get("legs", [])}))
    return resolved
