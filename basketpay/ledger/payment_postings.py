"""What each payment operation posts, derived from how it changed the payment intent:
the authorized, capturable and received amounts before and after. Written in the same
statement or transaction as the intent's change (payments/phases.py, resolution.py).

  authorize        hold: pending DR card_authorization_holds / CR customer_receivables
  increment        hold grows by the difference, same accounts
  capture          release that much of the hold; DR processor_clearing / CR customer_receivables
  final capture    ... and release the rest of the hold
  void             release the rest of the hold
  sale             DR processor_clearing / CR customer_receivables, no hold
  refund           DR customer_receivables / CR processor_clearing
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from basketpay.db.statements import WriteBatch
from basketpay.invariant import InvariantViolation, invariant
from basketpay.ledger import chart
from basketpay.ledger.posting import Entry, Posting, hold, hold_bucket, release, transfer
from basketpay.ledger.tables import ledger_entries, ledger_holds, ledger_postings


@dataclass(frozen=True, slots=True)
class Amounts:
    authorized: int
    capturable: int
    received: int

    @classmethod
    def of(cls, intent: Any) -> Amounts:
        return cls(intent.amount_authorized, intent.amount_capturable, intent.amount_received)


@dataclass(slots=True)
class LedgerWrite:
    """One entry, and the hold row it creates or changes (absolute values)."""

    entry: Entry
    hold_insert: dict[str, Any] | None = None
    hold_update: dict[str, Any] | None = None

    def add_to(self, batch: WriteBatch, now: dt.datetime) -> WriteBatch:
        """Append the writes to a batch, after (and so guarded by) whatever it guards."""
        entry, postings = self.entry.rows()
        batch.then_insert(ledger_entries, entry).then_insert_many(ledger_postings, postings)
        if self.hold_insert is not None:
            batch.then_insert(ledger_holds, {**self.hold_insert, "updated_at": now})
        if self.hold_update is not None:
            assert self.entry.hold_id is not None
            batch.then_update(ledger_holds, {**self.hold_update, "updated_at": now}, {"id": self.entry.hold_id})
        return batch

    async def write(self, connection: AsyncConnection[Any], now: dt.datetime) -> None:
        """On its own, inside the caller's transaction."""
        statement, params = self.add_to(WriteBatch(), now).statement()
        if await (await connection.execute(statement, params)).fetchone() is None:
            raise InvariantViolation("a write batch always returns a row")


@dataclass(frozen=True, slots=True)
class _Expiry:
    """Stands in for an attempt: an expiry is a change no processor call made."""

    id: str
    operation: str = "expiry"


def hold_id(intent_id: str) -> str:
    return "lh_" + intent_id.removeprefix("pi_")


class PaymentPostings:
    def __init__(self, hot_buckets: int) -> None:
        self._buckets = hot_buckets

    def for_change(self, intent: Any, attempt: Any, before: Amounts) -> LedgerWrite | None:
        """The entry for a succeeded attempt that took `intent` from `before` to its state now."""
        after = Amounts.of(intent)
        if attempt.operation == "refund":
            return self._refund(intent, attempt)
        if attempt.operation == "sale":
            return self._sale(intent, after.received - before.received)
        return self._hold_change(intent, attempt, before, after)

    def for_expiry(self, intent: Any, before: Amounts) -> LedgerWrite | None:
        """The authorization lapsed: what was left of the hold is released."""
        expired = _Expiry(intent.id)
        return self._hold_change(intent, expired, before, Amounts.of(intent))

    def _accounts(self, intent: Any) -> tuple[str, str, str]:
        merchant, currency = intent.merchant_id, intent.currency.upper()
        return (chart.account_id(merchant, chart.CARD_AUTHORIZATION_HOLDS, currency),
                chart.account_id(merchant, chart.CUSTOMER_RECEIVABLES, currency),
                chart.account_id(merchant, chart.processor_clearing(intent.connector), currency))

    def _entry(self, intent: Any, kind: str, postings: list[Posting], with_hold: bool = False) -> Entry:
        entry = Entry(intent.merchant_id, kind, postings, object_id=intent.id,
                      hold_id=hold_id(intent.id) if with_hold else None)
        entry.check()
        return entry

    def _charge(self, intent: Any, amount: int) -> list[Posting]:
        _, receivables, clearing = self._accounts(intent)
        bucket = random.randrange(self._buckets)  # hot accounts: spread concurrent payments over rows
        return transfer(clearing, receivables, intent.currency.upper(), amount, debit_bucket=bucket,
                        credit_bucket=bucket)

    def _sale(self, intent: Any, captured: int) -> LedgerWrite:
        invariant(captured > 0, "a sale that succeeded received money")
        return LedgerWrite(self._entry(intent, "payment.sale", self._charge(intent, captured)))

    def _refund(self, intent: Any, attempt: Any) -> LedgerWrite:
        _, receivables, clearing = self._accounts(intent)
        bucket = random.randrange(self._buckets)
        postings = transfer(receivables, clearing, intent.currency.upper(), attempt.amount, debit_bucket=bucket,
                            credit_bucket=bucket)
        return LedgerWrite(self._entry(intent, "payment.refund", postings))

    def _hold_change(self, intent: Any, attempt: Any, before: Amounts, after: Amounts) -> LedgerWrite | None:
        holds, receivables, _ = self._accounts(intent)
        currency, identifier = intent.currency.upper(), hold_id(intent.id)
        bucket = hold_bucket(identifier, self._buckets)
        placed = after.authorized - before.authorized
        captured = after.received - before.received
        released = before.capturable + placed - after.capturable - captured
        invariant(placed >= 0 and captured >= 0 and released >= 0, f"an operation cannot shrink a hold: {attempt.id}")
        postings: list[Posting] = []
        if placed:
            postings += hold(holds, receivables, currency, placed, bucket)
        if captured + released:
            postings += release(holds, receivables, currency, captured + released, bucket)
        if captured:
            postings += self._charge(intent, captured)
        if not postings:
            return None
        kind = {"authorize": "payment.authorization", "increment_authorization": "payment.authorization_increment",
                "capture": "payment.capture", "void": "payment.void",
                "expiry": "payment.authorization_expired"}[attempt.operation]
        write = LedgerWrite(self._entry(intent, kind, postings, with_hold=True))
        state = self._hold_state(after)
        if before.authorized == 0:
            write.hold_insert = {"id": identifier, "merchant_id": intent.merchant_id, "currency": currency,
                                 "debit_account_id": holds, "credit_account_id": receivables,
                                 "object_id": intent.id, **state}
        else:
            write.hold_update = state
        return write

    @staticmethod
    def _hold_state(after: Amounts) -> dict[str, Any]:
        released = after.authorized - after.received - after.capturable
        status = "pending" if after.capturable else ("posted" if after.received else "voided")
        return {"amount": after.authorized, "posted_amount": after.received, "released_amount": released,
                "status": status}
