"""Journal entries in memory: built, checked, then turned into rows. No database here.

An entry is a list of postings, each a signed amount (debit positive, credit negative)
on one account's balance bucket in one phase (posted, pending, release: see tables.py).
`Entry.check()` is the same rule the database enforces: every (currency, phase) sums to
zero and no amount is zero; it runs before any row is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson

from basketpay.ids import new_id
from basketpay.invariant import invariant
from basketpay.ledger.tables import PHASE_PENDING, PHASE_POSTED, PHASE_RELEASE


@dataclass(frozen=True, slots=True)
class Posting:
    account_id: str
    currency: str
    amount: int  # minor units; debit > 0 > credit
    phase: int = PHASE_POSTED
    bucket: int = 0


@dataclass(slots=True)
class Entry:
    merchant_id: str
    kind: str
    postings: list[Posting] = field(default_factory=list)
    id: str = field(default_factory=lambda: new_id("le"))
    object_id: str | None = None
    hold_id: str | None = None
    description: str | None = None
    client_entry_id: str | None = None
    reverses_entry_id: str | None = None
    created_at: dt.datetime | None = None

    def check(self) -> None:
        invariant(len(self.postings) >= 2, f"entry {self.id} has fewer than two postings")
        sums: dict[tuple[str, int], int] = defaultdict(int)
        for posting in self.postings:
            invariant(posting.amount != 0, f"entry {self.id} has a zero posting")
            sums[(posting.currency, posting.phase)] += posting.amount
        unbalanced = {key: total for key, total in sums.items() if total != 0}
        invariant(not unbalanced, f"entry {self.id} does not balance: {unbalanced}")

    def digest(self) -> bytes:
        """What the entry says, for "same client id, same content?": accounts, amounts, phases, kind."""
        content = [self.kind, self.description, self.object_id, self.reverses_entry_id,
                   sorted((p.account_id, p.currency, p.amount, p.phase) for p in self.postings)]
        return hashlib.sha256(orjson.dumps(content)).digest()

    def rows(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        self.check()
        entry = {
            "id": self.id, "merchant_id": self.merchant_id, "kind": self.kind, "object_id": self.object_id,
            "hold_id": self.hold_id, "description": self.description, "client_entry_id": self.client_entry_id,
            "content_digest": self.digest() if self.client_entry_id is not None else None,
            "reverses_entry_id": self.reverses_entry_id,
        }
        postings = [
            {"entry_id": self.id, "merchant_id": self.merchant_id, "account_id": p.account_id,
             "currency": p.currency, "bucket": p.bucket, "phase": p.phase, "amount": p.amount}
            for p in self.postings
        ]
        return entry, postings


def transfer(debit: str, credit: str, currency: str, amount: int, *, phase: int = PHASE_POSTED,
             debit_bucket: int = 0, credit_bucket: int = 0) -> list[Posting]:
    """Two postings that move `amount` (> 0) from `credit` to `debit`."""
    invariant(amount > 0, "a transfer moves a positive amount")
    return [Posting(debit, currency, amount, phase, debit_bucket), Posting(credit, currency, -amount, phase, credit_bucket)]


def release(debit: str, credit: str, currency: str, amount: int, bucket: int,
            credit_bucket: int | None = None) -> list[Posting]:
    """Take back `amount` of a hold placed as pending DR `debit` / CR `credit` (in the hold's buckets)."""
    invariant(amount > 0, "a release takes back a positive amount")
    return [Posting(debit, currency, -amount, PHASE_RELEASE, bucket),
            Posting(credit, currency, amount, PHASE_RELEASE, bucket if credit_bucket is None else credit_bucket)]


def hold(debit: str, credit: str, currency: str, amount: int, bucket: int,
         credit_bucket: int | None = None) -> list[Posting]:
    return transfer(debit, credit, currency, amount, phase=PHASE_PENDING, debit_bucket=bucket,
                    credit_bucket=bucket if credit_bucket is None else credit_bucket)


def hold_bucket(hold_id: str, buckets: int) -> int:
    """A hold's pending amounts live in one bucket, so releasing them never drives a bucket negative."""
    return zlib.crc32(hold_id.encode()) % buckets
