"""Gift cards and customer credit as ledger liabilities: each gift card and each
customer's credit (per currency) is a guarded liability account of its own, so its
balance can never go below zero and an order can hold part of it like a card.

Issuing a gift card: DR bank_cash / CR gift_card_liability:{card}. Granting credit:
DR customer_credit_grants / CR customer_credit_liability:{customer}. Spending either
(the order workflow) holds and then posts from that account to customer_receivables.
"""

from __future__ import annotations

import hashlib
from typing import Any

from basketpay.idempotency.keys import StoredResponse
from basketpay.ids import new_id
from basketpay.ledger import chart
from basketpay.ledger.schemas import EntryCreate, PostingIn
from basketpay.ledger.service import LedgerService
from basketpay.payments.phases import RequestContext
from basketpay.stored_value import schemas


def gift_card_code(gift_card_id: str) -> str:
    return f"gift_card_liability:{gift_card_id}"


def credit_code(customer: str) -> str:
    return f"customer_credit_liability:{customer}"


class StoredValue:
    def __init__(self, ledger: LedgerService, runner: Any) -> None:
        self._ledger = ledger
        self._runner = runner

    async def _account(self, merchant_id: str, code: str, currency: str, owner: str, description: str) -> str:
        await self._runner.ensure_chart(merchant_id, currency)
        async with self._ledger.database.connection() as connection:
            return await chart.ensure_owned_account(connection, merchant_id, code, currency, owner, description)

    async def issue_gift_card(self, context: RequestContext, params: schemas.GiftCardIssue) -> StoredResponse:
        # Derived from the Idempotency-Key when there is one: a retry names the same card.
        gift_card_id = new_id("gc") if context.idempotency_key is None else "gc_" + hashlib.sha256(
            f"{context.merchant_id}\0{context.idempotency_key}".encode()).hexdigest()[:24]
        account = await self._account(context.merchant_id, gift_card_code(gift_card_id), params.currency,
                                      gift_card_id, "A gift card's balance")
        cash = chart.account_id(context.merchant_id, "bank_cash", params.currency)
        return await self._post(context, cash, account, params.amount, "gift_card.issued", gift_card_id)

    async def grant_credit(self, context: RequestContext, params: schemas.CreditGrant) -> StoredResponse:
        account = await self._account(context.merchant_id, credit_code(params.customer), params.currency,
                                      params.customer, "A customer's credit balance")
        grants = chart.account_id(context.merchant_id, "customer_credit_grants", params.currency)
        return await self._post(context, grants, account, params.amount, "customer_credit.granted", params.customer,
                                params.reason)

    async def _post(self, context: RequestContext, debit: str, credit: str, amount: int, kind: str, object_id: str,
                    description: str | None = None) -> StoredResponse:
        entry = EntryCreate(postings=[PostingIn(account=debit, direction="debit", amount=amount),
                                      PostingIn(account=credit, direction="credit", amount=amount)],
                            kind=kind, object_id=object_id, description=description)
        return await self._ledger.post_entries(context, [entry])

    async def balance(self, merchant_id: str, code: str, currency: str) -> dict[str, Any]:
        return await self._ledger.balance(merchant_id, chart.account_id(merchant_id, code, currency), None)
