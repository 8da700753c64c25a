"""The marketplace's chart of accounts, one set per merchant and currency, and the
accounts' deterministic ids (so a hot path can name an account without looking it up).

| code | type | what moves it |
|---|---|---|
| card_authorization_holds | asset | pending debit when a card is authorized (or incrementally authorized); released when the authorization is captured, voided or expires |
| customer_receivables | asset | what customers owe for orders: debited when an order's charges are allocated (order layer), credited when a tender pays (card capture, EBT, gift card, credit); pending credit mirrors a card hold |
| processor_clearing:{processor} | asset | debited by a card capture (the processor owes us), credited by a refund and by the processor's settlement to the bank |
| processor_fees:{processor} | expense | debited by the processor's actual fees at settlement (reconciliation) |
| bank_cash | asset | debited by a processor payout reaching the bank; credited by payouts to retailers and shoppers |
| retailer_payables | liability | credited with the retailer's share of an order, debited when paid out or refunded |
| shopper_payables | liability | credited with what shoppers earn, debited when paid out |
| tips_payable | liability | credited by a captured tip (owed to the shopper), debited when paid out |
| platform_revenue:delivery_fees, platform_revenue:service_fees | revenue | credited by the platform's fees on an order |
| refunds | expense | debited by refunds the platform absorbs (not charged back to the retailer) |
| settlement_adjustments | expense | the other side of an accepted reconciliation break (what the processor's figure changed in clearing) |
| settlement_write_offs | expense | the other side of a written-off reconciliation break |
| snap_ebt_clearing | asset | debited by an EBT capture, credited by the EBT processor's settlement |
| gift_card_liability | liability | credited when gift cards are sold or loaded, debited when redeemed |
| customer_credit_liability | liability | credited when a customer is granted credit, debited when it is spent |

The payments core posts (ledger/payment_postings.py): an authorization places a hold
(pending: DR card_authorization_holds, CR customer_receivables); a capture releases that
much of the hold and posts DR processor_clearing, CR customer_receivables; a final
capture, a void or an expiry releases the rest; a sale posts at once; a refund posts
DR customer_receivables, CR processor_clearing. The order layer allocates
customer_receivables to retailers, shoppers, tips and revenue.

Accounts touched by every payment are *hot*: their balance is spread over buckets
(rows summed on read), so concurrent payments do not queue on one row lock.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

NORMAL_BALANCE = {"asset": "debit", "expense": "debit", "liability": "credit", "equity": "credit",
                  "revenue": "credit"}


@dataclass(frozen=True, slots=True)
class AccountSpec:
    code: str
    type: str
    hot: bool
    description: str


CARD_AUTHORIZATION_HOLDS = "card_authorization_holds"
CUSTOMER_RECEIVABLES = "customer_receivables"


def processor_clearing(processor: str) -> str:
    return f"processor_clearing:{processor}"


def processor_fees(processor: str) -> str:
    return f"processor_fees:{processor}"


_MARKETPLACE = (
    AccountSpec(CARD_AUTHORIZATION_HOLDS, "asset", True, "Card authorizations not yet captured (pending only)."),
    AccountSpec(CUSTOMER_RECEIVABLES, "asset", True, "What customers owe for orders, less what their tenders paid."),
    AccountSpec("bank_cash", "asset", False, "The platform's bank account."),
    AccountSpec("retailer_payables", "liability", True, "The retailers' share of orders, until paid out."),
    AccountSpec("shopper_payables", "liability", False, "What shoppers earned, until paid out."),
    AccountSpec("tips_payable", "liability", False, "Tips owed to shoppers."),
    AccountSpec("platform_revenue:delivery_fees", "revenue", True, "Delivery fees earned."),
    AccountSpec("platform_revenue:service_fees", "revenue", True, "Service fees earned."),
    AccountSpec("refunds", "expense", False, "Refunds the platform absorbs."),
    AccountSpec("customer_credit_grants", "expense", False, "Credit the platform gives customers (goodwill)."),
    AccountSpec("settlement_adjustments", "expense", False, "Accepted reconciliation breaks (clearing adjusted)."),
    AccountSpec("settlement_write_offs", "expense", False, "Written-off reconciliation breaks."),
    AccountSpec("snap_ebt_clearing", "asset", False, "SNAP EBT captures until the EBT processor settles."),
    AccountSpec("gift_card_liability", "liability", False, "Gift card balances outstanding."),
    AccountSpec("customer_credit_liability", "liability", False, "Customer credit balances outstanding."),
)


def chart(processors: Iterable[str]) -> list[AccountSpec]:
    """The accounts every merchant has in each currency it takes payments in."""
    per_processor = []
    for processor in sorted(set(processors)):
        per_processor.append(AccountSpec(processor_clearing(processor), "asset", True,
                                         f"What {processor} owes us: captures less refunds, until settled."))
        per_processor.append(AccountSpec(processor_fees(processor), "expense", True, f"{processor}'s fees."))
    return [*_MARKETPLACE, *per_processor]


def spec_for(code: str, processors: Iterable[str]) -> AccountSpec | None:
    """The chart's account with this code, if it is one (its id is then deterministic)."""
    return next((spec for spec in chart(processors) if spec.code == code), None)


def account_id(merchant_id: str, code: str, currency: str) -> str:
    """Deterministic: the same merchant, code and currency always name the same account."""
    digest = hashlib.sha256(f"{merchant_id}\x00{code}\x00{currency.upper()}".encode()).digest()
    return "la_" + base64.b32encode(digest[:15]).decode().lower()


_INSERT_ACCOUNT = """
INSERT INTO ledger_accounts (id, merchant_id, code, currency, type, normal_balance, buckets, description)
VALUES (%(id)s, %(merchant_id)s, %(code)s, %(currency)s, %(type)s, %(normal_balance)s, %(buckets)s, %(description)s)
ON CONFLICT DO NOTHING"""  # any arbiter: two first payments racing collide on the id (primary key) first
_INSERT_BUCKETS = """
INSERT INTO ledger_balances (account_id, bucket, merchant_id, currency, normal_balance, guard)
SELECT %(id)s, bucket, %(merchant_id)s, %(currency)s, %(normal_balance)s, 'none'
FROM generate_series(0, %(buckets)s - 1) AS bucket
ON CONFLICT (account_id, bucket) DO NOTHING"""
_WIDEN = "UPDATE ledger_accounts SET buckets = %(buckets)s WHERE id = %(id)s AND buckets < %(buckets)s"


_INSERT_OWNED = """
INSERT INTO ledger_accounts (id, merchant_id, code, currency, type, normal_balance, guard, owner, description)
VALUES (%(id)s, %(merchant_id)s, %(code)s, %(currency)s, %(type)s, %(normal_balance)s, 'non_negative', %(owner)s,
        %(description)s)
ON CONFLICT DO NOTHING"""
_INSERT_OWNED_BALANCE = """
INSERT INTO ledger_balances (account_id, bucket, merchant_id, currency, normal_balance, guard)
VALUES (%(id)s, 0, %(merchant_id)s, %(currency)s, %(normal_balance)s, 'non_negative')
ON CONFLICT (account_id, bucket) DO NOTHING"""


async def ensure_owned_account(connection: AsyncConnection[Any], merchant_id: str, code: str, currency: str,
                               owner: str, description: str) -> str:
    """A guarded liability of one owner (a customer's credit, one gift card), created once."""
    row = {"id": account_id(merchant_id, code, currency), "merchant_id": merchant_id, "code": code,
           "currency": currency.upper(), "type": "liability", "normal_balance": "credit", "owner": owner,
           "description": description}
    await connection.execute(_INSERT_OWNED, row)
    await connection.execute(_INSERT_OWNED_BALANCE, row)
    return str(row["id"])


async def provision(
    connection: AsyncConnection[Any], merchant_id: str, currency: str, processors: Iterable[str], hot_buckets: int
) -> None:
    """Create the merchant's chart in this currency, if it is not there yet (idempotent)."""
    currency = currency.upper()
    rows: list[dict[str, Any]] = [
        {"id": account_id(merchant_id, spec.code, currency), "merchant_id": merchant_id, "code": spec.code,
         "currency": currency, "type": spec.type, "normal_balance": NORMAL_BALANCE[spec.type],
         "buckets": hot_buckets if spec.hot else 1, "description": spec.description}
        for spec in chart(processors)
    ]
    async with connection.cursor() as cursor:
        await cursor.executemany(_INSERT_ACCOUNT, rows)
        await cursor.executemany(_INSERT_BUCKETS, rows)
        # More buckets configured than before: the new rows exist (above) before any posting names them.
        await cursor.executemany(_WIDEN, [row for row in rows if row["buckets"] > 1])
