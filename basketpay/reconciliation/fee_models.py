"""What each processor should have charged for a settlement line: its price list, in
integer minor units, applied to the line's own facts (kind, amount, card brand and
funding). A line whose fee differs is a fee discrepancy.

The price lists are the processors' published card pricing (the same ones the sandbox
processors charge, so their types are shared): Stripe's blended 2.9% + 30¢ (the fixed
part once per charge, nothing back on a refund), Adyen's interchange++ (commission,
markup, scheme fee, interchange by brand and funding; a commission on refunds and a fee
on other modifications). A merchant with negotiated pricing configures its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from basketpay.money import percent_of
from basketpay.reconciliation.formats.rows import SettlementRow
from basketpay.sandboxes.fees import AdyenFees, StripeFees

__all__ = ["ExpectedFee", "FeeModels"]


# What a line should have cost: (always due, due only on a payment's first charge: Stripe's
# fixed part). A tuple, not an object: it is made for every line of a million-line file.
ExpectedFee = tuple[int, int]


@dataclass(frozen=True, slots=True)
class FeeModels:
    stripe: StripeFees = field(default_factory=StripeFees)
    adyen: AdyenFees = field(default_factory=AdyenFees)

    def expected(self, processor: str, row: SettlementRow) -> ExpectedFee | None:
        """None: nothing to check (payouts, adjustments, a processor without a model)."""
        if processor == "stripe":
            return self._stripe(row)
        if processor == "adyen":
            return self._adyen(row)
        return None

    def _stripe(self, row: SettlementRow) -> ExpectedFee | None:
        if row.kind == "charge" and row.gross > 0:
            return percent_of(row.gross, self.stripe.percent_bps), self.stripe.fixed_minor
        return (0, 0) if row.kind == "refund" else None

    def _adyen(self, row: SettlementRow) -> ExpectedFee | None:
        if row.kind == "charge" and row.gross > 0:
            return self.adyen.sale(row.brand or "", row.funding or "", row.gross).total, 0
        if row.kind == "refund":
            return self.adyen.refund().total, 0
        return (self.adyen.modification().total, 0) if row.kind == "fee" else None
