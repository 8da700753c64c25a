"""`basketpay ledger check`: every invariant of the books, verified from the rows up.

Each check is one query that returns the rows breaking it (at most `EXAMPLES_MAX`) and a
count; a healthy ledger returns nothing from any of them. The database enforces most of
these as the rows are written (tables.py, migration 0005): this is the audit that does
not take the enforcement's word for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from basketpay.ledger.tables import POSTING_SUMS

EXAMPLES_MAX = 5


CHECKS: dict[str, str] = {
    "entries_balance": """
        SELECT entry_id, currency, phase, sum(amount) AS total FROM ledger_postings
        GROUP BY entry_id, currency, phase HAVING sum(amount) <> 0""",
    "entries_have_two_postings": """
        SELECT e.id FROM ledger_entries e LEFT JOIN ledger_postings p ON p.entry_id = e.id
        GROUP BY e.id HAVING count(p.id) < 2""",
    "no_orphan_postings": """
        SELECT p.id, p.entry_id FROM ledger_postings p LEFT JOIN ledger_entries e ON e.id = p.entry_id
        WHERE e.id IS NULL""",
    "postings_match_their_account": """
        SELECT p.id, p.account_id FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id
        WHERE a.currency <> p.currency OR a.merchant_id <> p.merchant_id OR p.bucket >= a.buckets""",
    "balances_equal_their_postings": f"""
        WITH sums AS (
            SELECT p.account_id, p.bucket, {POSTING_SUMS}
            FROM ledger_postings p GROUP BY p.account_id, p.bucket)
        SELECT b.account_id, b.bucket, b.posted, s.posted AS postings_posted
        FROM ledger_balances b FULL JOIN sums s ON s.account_id = b.account_id AND s.bucket = b.bucket
        WHERE b.account_id IS NULL
           OR (b.posted, b.pending_debits, b.pending_credits)
              IS DISTINCT FROM (coalesce(s.posted, 0), coalesce(s.pending_debits, 0), coalesce(s.pending_credits, 0))""",
    "trial_balance_is_zero": """
        SELECT a.merchant_id, a.currency, sum(b.posted) AS posted, sum(b.pending_debits - b.pending_credits) AS pending
        FROM ledger_balances b JOIN ledger_accounts a ON a.id = b.account_id
        GROUP BY a.merchant_id, a.currency
        HAVING sum(b.posted) <> 0 OR sum(b.pending_debits - b.pending_credits) <> 0""",
    "guarded_accounts_not_negative": """
        SELECT a.id, a.code FROM ledger_accounts a JOIN ledger_balances b ON b.account_id = a.id
        WHERE a.guard = 'non_negative' AND ((a.normal_balance = 'debit' AND b.posted - b.pending_credits < 0)
            OR (a.normal_balance = 'credit' AND -b.posted - b.pending_debits < 0))""",
    "holds_not_over_posted": """
        SELECT id, amount, posted_amount, released_amount FROM ledger_holds
        WHERE posted_amount + released_amount > amount OR posted_amount < 0 OR released_amount < 0""",
    "holds_equal_their_pending_postings": """
        WITH pending AS (
            SELECT e.hold_id,
                coalesce(sum(p.amount) FILTER (WHERE p.phase = 1), 0) AS placed,
                coalesce(-sum(p.amount) FILTER (WHERE p.phase = 2), 0) AS released
            FROM ledger_entries e JOIN ledger_holds h ON h.id = e.hold_id
            JOIN ledger_postings p ON p.entry_id = e.id AND p.account_id = h.debit_account_id
            WHERE p.phase IN (1, 2) GROUP BY e.hold_id)
        SELECT h.id, h.amount, p.placed, h.posted_amount + h.released_amount AS taken, p.released
        FROM ledger_holds h LEFT JOIN pending p ON p.hold_id = h.id
        WHERE coalesce(p.placed, 0) <> h.amount OR coalesce(p.released, 0) <> h.posted_amount + h.released_amount""",
    "payment_holds_match_their_intents": """
        SELECT i.id, i.amount_authorized, i.amount_capturable, i.amount_received, h.amount,
               h.posted_amount, h.released_amount
        FROM payment_intents i JOIN ledger_holds h ON h.object_id = i.id AND h.merchant_id = i.merchant_id
        WHERE h.amount <> i.amount_authorized OR h.posted_amount <> i.amount_received
           OR h.amount - h.posted_amount - h.released_amount <> i.amount_capturable""",
    "every_captured_payment_is_posted": """
        SELECT i.id, i.amount_received, i.amount_refunded, coalesce(sum(p.amount), 0) AS clearing
        FROM payment_intents i
        LEFT JOIN ledger_entries e ON e.object_id = i.id AND e.merchant_id = i.merchant_id
        LEFT JOIN ledger_postings p ON p.entry_id = e.id AND p.phase = 0
             AND p.account_id IN (SELECT id FROM ledger_accounts WHERE starts_with(code, 'processor_clearing:'))
        WHERE i.amount_received > 0
        GROUP BY i.id, i.amount_received, i.amount_refunded
        HAVING coalesce(sum(p.amount), 0) <> i.amount_received - i.amount_refunded""",
}


@dataclass(slots=True)
class CheckReport:
    violations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.violations


def check_ledger(connection: Connection) -> CheckReport:
    report = CheckReport()
    for name, query in CHECKS.items():
        rows = connection.execute(text(query)).mappings().all()
        report.counts[name] = len(rows)
        if rows:
            report.violations[name] = [dict(row) for row in rows[:EXAMPLES_MAX]]
    return report
