"""What matching reads: the orders' card authorizations around a feed's span, and the orders
other feeds have already paired with a purchase."""

from __future__ import annotations

import datetime as dt
from typing import Any

from psycopg import AsyncConnection

from basketpay.orders.record import basket_from
from basketpay.reconciliation.pos.matching import CardAuthorization
from basketpay.reconciliation.pos.store_charges import store_charges

DEFAULT_CURRENCY = "usd"

# An order's card authorizations are its manual-capture payment intents (the tip is an
# automatic one), found from the intent's `order` metadata and checked against the order's
# card tender. The card is the one the authorization is on; the capture time is the order's
# last successful card capture. Canceled and failed orders bought nothing.
_AUTHORIZATIONS = """
SELECT o.id AS order_id, lower(o.currency) AS currency, o.document -> 'basket' AS basket, pm.last4,
       pi.created_at AS authorized_at,
       (SELECT max(pa.completed_at) FROM payment_attempts pa
         WHERE pa.operation = 'capture' AND pa.status = 'succeeded'
           AND pa.payment_intent_id IN (SELECT a.value ->> 'id' FROM jsonb_array_elements(o.document -> 'tenders') t,
                                               jsonb_array_elements(t.value -> 'authorizations') a
                                        WHERE t.value ->> 'kind' = 'card')) AS captured_at
FROM payment_intents pi
JOIN orders o ON o.id = pi.metadata ->> 'order' AND o.merchant_id = pi.merchant_id
JOIN payment_methods pm ON pm.id = pi.payment_method_id
WHERE pi.merchant_id = %(merchant_id)s AND pi.capture_method = 'manual'
  AND pi.created_at BETWEEN %(since)s AND %(until)s
  AND o.status NOT IN ('authorizing', 'canceling', 'canceled', 'failed')
  AND EXISTS (SELECT 1 FROM jsonb_array_elements(o.document -> 'tenders') t,
                            jsonb_array_elements(t.value -> 'authorizations') a
              WHERE t.value ->> 'kind' = 'card' AND a.value ->> 'id' = pi.id)
ORDER BY pi.created_at, o.id
"""


async def card_authorizations(connection: AsyncConnection[Any], merchant_id: str, since: dt.datetime,
                              until: dt.datetime) -> list[CardAuthorization]:
    """The merchant's orders' card authorizations created between `since` and `until`."""
    rows = await (await connection.execute(
        _AUTHORIZATIONS, {"merchant_id": merchant_id, "since": since, "until": until})).fetchall()
    return [CardAuthorization(row.order_id, row.currency, row.last4, row.authorized_at, row.captured_at,
                              store_charges(basket_from(row.basket))) for row in rows]


async def claimed_orders(connection: AsyncConnection[Any], merchant_id: str,
                         order_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Of these orders, those a line of an earlier feed was paired with: where, and how
    (a match first, when there are several)."""
    rows = await (await connection.execute(
        "SELECT DISTINCT ON (order_id) order_id, feed_id, line, status FROM pos_transactions"
        " WHERE merchant_id = %(merchant_id)s AND order_id = ANY(%(orders)s)"
        " ORDER BY order_id, status <> 'matched', feed_id, line",
        {"merchant_id": merchant_id, "orders": order_ids})).fetchall()
    return {row.order_id: {"feed": row.feed_id, "line": row.line, "status": row.status} for row in rows}


async def default_currency(connection: AsyncConnection[Any], merchant_id: str) -> str:
    """The currency of the merchant's latest order (USD if it has none): a feed's, unless it says."""
    row = await (await connection.execute(
        "SELECT currency FROM orders WHERE merchant_id = %(merchant_id)s ORDER BY seq DESC LIMIT 1",
        {"merchant_id": merchant_id})).fetchone()
    return DEFAULT_CURRENCY if row is None else str(row.currency).lower()
