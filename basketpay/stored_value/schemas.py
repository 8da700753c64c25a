"""Request bodies for gift cards and customer credit."""

from __future__ import annotations

from pydantic import Field

from basketpay.payments.schemas import AmountMinor, LedgerCurrency, ObjectId, Text, _Strict


class _Money(_Strict):
    amount: AmountMinor
    currency: LedgerCurrency



class GiftCardIssue(_Money):
    """A gift card sold (or loaded) for `amount`: the money is in the bank, owed to the holder."""


class CreditGrant(_Money):
    customer: ObjectId
    reason: Text | None = Field(default=None, max_length=500)
