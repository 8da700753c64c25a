"""A point-of-sale feed's summary, stored with it: counts by status, amounts per currency,
the match rate, and the orders authorized during the feed that no purchase of it explains."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from basketpay.reconciliation.pos.matching import STATUSES, CardAuthorization, MatchWindow, Outcome
from basketpay.reconciliation.pos.parser import StoreTransaction

ORDERS_LISTED_MAX = 1_000  # the summary lists this many orders without a purchase; it counts them all


def summarize(transactions: Sequence[StoreTransaction], outcomes: Mapping[int, Outcome],
              missing: Sequence[CardAuthorization], window: MatchWindow) -> dict[str, Any]:
    counts = dict.fromkeys(STATUSES, 0)
    for outcome in outcomes.values():
        counts[outcome.status] += 1
    times = [transaction.occurred_at for transaction in transactions]
    return {
        "transactions": len(transactions),
        "counts": counts,
        "match_rate": round(counts["matched"] / len(transactions), 4) if transactions else None,
        "amounts": _amounts(transactions, outcomes),
        "span": None if not times else {"from": min(times).isoformat(), "to": max(times).isoformat()},
        "window_seconds": window.window_seconds,
        "capture_grace_seconds": window.capture_grace_seconds,
        "orders_without_purchase_count": len(missing),
        "orders_without_purchase": [_missing_json(item) for item in missing[:ORDERS_LISTED_MAX]],
    }


def _amounts(transactions: Sequence[StoreTransaction], outcomes: Mapping[int, Outcome]) -> dict[str, Any]:
    """Per currency, in minor units: what the stores charged, what of it matched, and the
    differences (the store's minus the orders') on the mismatched lines."""
    amounts: dict[str, dict[str, int]] = {}
    for transaction in transactions:
        outcome = outcomes[transaction.line]
        figures = amounts.setdefault(transaction.currency, dict.fromkeys(
            ("store_total", "store_tax", "matched_total", "total_difference", "tax_difference", "unmatched_total"), 0))
        figures["store_total"] += transaction.total
        figures["store_tax"] += transaction.tax
        if outcome.status == "matched":
            figures["matched_total"] += transaction.total
        elif outcome.status == "total_mismatch":
            figures["total_difference"] += outcome.detail["difference"]
        elif outcome.status == "tax_mismatch":
            figures["tax_difference"] += outcome.detail["difference"]
        else:
            figures["unmatched_total"] += transaction.total
    return amounts


def _missing_json(item: CardAuthorization) -> dict[str, Any]:
    return {"order": item.order_id, "authorized_at": item.authorized_at.isoformat(), "currency": item.currency,
            "expected_total": item.expected.total, "expected_tax": item.expected.tax}


def without_purchase(authorizations: Sequence[CardAuthorization], transactions: Sequence[StoreTransaction],
                     explained: set[str]) -> list[CardAuthorization]:
    """One per order (its first authorization in the span) authorized during the feed's span
    whose order no purchase (of this feed or another) was paired with."""
    if not transactions:
        return []
    start = min(transaction.occurred_at for transaction in transactions)
    end = max(transaction.occurred_at for transaction in transactions)
    found: dict[str, CardAuthorization] = {}
    for item in sorted(authorizations, key=lambda item: (item.authorized_at, item.order_id)):
        if start <= item.authorized_at <= end and item.order_id not in explained:
            found.setdefault(item.order_id, item)
    return list(found.values())
