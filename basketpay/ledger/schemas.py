"""Request bodies of the ledger API: strict, unknown fields refused, amounts positive
integers in minor units (a posting's side is its `direction`, never its sign)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictInt, StringConstraints

from basketpay.payments.schemas import AmountMinor, LedgerCurrency, ObjectId, Text, _Strict

POSTINGS_PER_ENTRY_MAX = 50
ENTRIES_PER_REQUEST_MAX = 1000
AccountCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_.:-]{1,100}$")]
ClientEntryId = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,255}$")]
Timestamp = Annotated[StrictInt, Field(ge=0, le=253402300799, description="Unix seconds.")]


class AccountCreate(_Strict):
    code: AccountCode = Field(description="e.g. customer_credit_liability:cus_123; unique per currency.")
    currency: LedgerCurrency
    type: Literal["asset", "liability", "equity", "revenue", "expense"]
    guard: Literal["none", "non_negative"] = Field(
        default="none", description="non_negative: the available balance may never go below zero.")
    owner: Text | None = Field(default=None, max_length=255)
    description: Text | None = Field(default=None, max_length=1000)



class PostingIn(_Strict):
    account: ObjectId
    direction: Literal["debit", "credit"]
    amount: AmountMinor


class EntryCreate(_Strict):
    postings: list[PostingIn] = Field(min_length=2, max_length=POSTINGS_PER_ENTRY_MAX)
    client_entry_id: ClientEntryId | None = Field(
        default=None, description="Your id: the same id and content returns the existing entry.")
    kind: AccountCode = "manual"
    description: Text | None = Field(default=None, max_length=1000)
    object_id: Text | None = Field(default=None, max_length=255)


class EntriesBatchCreate(_Strict):
    entries: list[EntryCreate] = Field(min_length=1, max_length=ENTRIES_PER_REQUEST_MAX)


class EntryReverse(_Strict):
    client_entry_id: ClientEntryId | None = None
    description: Text | None = Field(default=None, max_length=1000)


class HoldCreate(_Strict):
    debit_account: ObjectId
    credit_account: ObjectId
    amount: AmountMinor
    expires_at: Timestamp | None = None
    object_id: Text | None = Field(default=None, max_length=255)
    description: Text | None = Field(default=None, max_length=1000)


class HoldPost(_Strict):
    amount: AmountMinor | None = Field(default=None, description="Default: all that is left.")
    final: StrictBool = Field(default=True, description="Release what is left after this posting.")
