"""Request bodies for gift cards and customer credit."""

from __future__ import annotations

from pydantic import Field, field_validator

from basketpay.money import MoneyError, currency_exponent
from basketpay.payments.schemas import AmountMinor, ObjectId, Text, _Strict


class _Money(_Strict):
    amount: AmountMinor
    currency: Text = Field(min_length=3, max_length=3)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        try:
            currency_exponent(value)
        except MoneyError as error:
            raise ValueError(str(error)) from error
        return value.upper()


class GiftCardIssue(_Money):
    """A gift card sold (or loaded) for `amount`: the money is in the bank, owed to the holder."""


class CreditGrant(_Money):
    customer: ObjectId
    reason: Text | None = Field(default=None, max_length=500)
