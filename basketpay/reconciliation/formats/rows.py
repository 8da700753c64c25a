"""What every settlement format is read into, and the one error a bad file raises.

A parser streams: it yields one `SettlementRow` per data line and never holds the file.
A file is all or nothing: the first bad line raises `FileRejected` naming its line and
column, and the importer rolls back whatever it had written of that file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

KINDS = ("charge", "refund", "fee", "payout", "adjustment")


class FileRejected(ValueError):
    """A file that cannot be imported; `line` is the file's line number (the header is 1)."""

    def __init__(self, message: str, *, line: int | None = None, column: str | None = None) -> None:
        where = ", ".join(part for part in (f"line {line}" if line else "", f"column {column!r}" if column else "")
                          if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.line, self.column, self.reason = line, column, message


@dataclass(frozen=True, slots=True)
class SettlementRow:
    line: int  # the file's line number (its header is line 1)
    kind: str  # one of KINDS: charge (a capture or sale settled), refund, fee, payout, adjustment
    row_reference: str | None  # the processor's id of this line: Stripe balance transaction, Adyen modification
    payment_reference: str | None  # the processor's id of the payment: Stripe PaymentIntent, Adyen PSP reference
    attempt_reference: str | None  # the reference basketpay sent with the operation (Adyen's modification
    #                                merchant reference: the attempt's processor idempotency key), when present
    currency: str  # ISO 4217, upper case
    gross: int  # minor units, signed: a credit to the merchant is positive (a charge), a debit negative (a refund)
    fee: int  # minor units the processor kept for this line (positive = charged to the merchant)
    net: int  # gross - fee; for a payout row: minus the amount paid to the bank
    batch: str  # the payout (Stripe automatic_payout_id) or batch (Adyen Batch Number) this line is paid in
    booked_at: dt.datetime  # UTC
    brand: str | None = None  # card brand (visa, mastercard, amex, ...), lower case, when the file says
    funding: str | None = None  # credit, debit, prepaid, when the file says


class Parser(Protocol):
    processor: str  # "stripe" or "adyen": the connector whose attempts the rows settle
    format: str  # e.g. "stripe_itemized_payout_reconciliation"

    def rows(self, records: Iterator[tuple[int, list[str]]]) -> Iterator[SettlementRow]:
        """Read the data lines, given as (line number, cells) after the header line (which
        picked the parser and is checked by it: a missing column is rejected first)."""
        ...
