"""Matching a store's purchases to the orders' card authorizations, in memory.

A purchase's candidates are the orders authorized on a card with its last 4 digits, in its
currency, whose authorization it follows within the window (and, once the order is
captured, by no more than the grace after the capture). Each pair is ranked: total and tax
equal (matched), total equal but not the tax (tax_mismatch), total different
(total_mismatch). Pairs are taken best rank first, then closest in time, and each purchase
and each order is taken once: an order is matched to the purchase nearest its
authorization. A purchase left over is unmatched, with the reason why.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from basketpay.reconciliation.pos.parser import StoreTransaction
from basketpay.reconciliation.pos.store_charges import StoreCharges

STATUSES = ("matched", "tax_mismatch", "total_mismatch", "unmatched")  # by rank: the order pairs are taken in
NEARBY_SECONDS = 86_400  # an authorization on the card this close, outside the window, explains an unmatched line


@dataclass(frozen=True, slots=True)
class MatchWindow:
    window_seconds: int = 6 * 3600  # a purchase follows the order's authorization by at most this
    capture_grace_seconds: int = 3600  # and, once captured, the capture by at most this (the till's clock drifts)

    def contains(self, authorization: CardAuthorization, at: dt.datetime) -> bool:
        since = authorization.authorized_at
        if not since <= at <= since + dt.timedelta(seconds=self.window_seconds):
            return False
        captured = authorization.captured_at
        return captured is None or at <= captured + dt.timedelta(seconds=self.capture_grace_seconds)


@dataclass(frozen=True, slots=True)
class CardAuthorization:
    """One card authorization of an order (its hold, an extra hold or a re-authorization)."""

    order_id: str
    currency: str  # lower case
    last4: str
    authorized_at: dt.datetime
    captured_at: dt.datetime | None  # the order's last card capture
    expected: StoreCharges  # what the store charges for the order's basket


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str  # one of STATUSES
    order_id: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Pair:
    rank: int
    seconds: float  # after the authorization
    line: int
    authorization: CardAuthorization


def match(transactions: Sequence[StoreTransaction], authorizations: Sequence[CardAuthorization],
          window: MatchWindow, claimed: Mapping[str, dict[str, Any]]) -> dict[int, Outcome]:
    """The outcome of each purchase, by line. `claimed`: orders matched by other feeds (never
    matched again), with where."""
    by_card: dict[str, list[CardAuthorization]] = defaultdict(list)
    for authorization in authorizations:
        by_card[authorization.last4].append(authorization)
    pairs = sorted((pair for transaction in transactions
                    for pair in _pairs(transaction, by_card[transaction.card_last4], window, claimed)),
                   key=lambda pair: (pair.rank, pair.seconds, pair.line, pair.authorization.order_id))
    outcomes: dict[int, Outcome] = {}
    taken: set[str] = set()
    by_line = {transaction.line: transaction for transaction in transactions}
    for pair in pairs:
        order_id = pair.authorization.order_id
        if pair.line not in outcomes and order_id not in taken:
            taken.add(order_id)
            outcomes[pair.line] = _paired(by_line[pair.line], pair)
    for transaction in transactions:
        if transaction.line not in outcomes:
            outcomes[transaction.line] = _unmatched(transaction, by_card[transaction.card_last4], window, claimed)
    return outcomes


def _pairs(transaction: StoreTransaction, authorizations: list[CardAuthorization], window: MatchWindow,
           claimed: Mapping[str, dict[str, Any]]) -> list[_Pair]:
    """The purchase's candidates, one per order (its authorization closest before the purchase)."""
    closest: dict[str, _Pair] = {}
    for authorization in authorizations:
        if (authorization.currency != transaction.currency or authorization.order_id in claimed
                or not window.contains(authorization, transaction.occurred_at)):
            continue
        expected = authorization.expected
        rank = 0 if (transaction.total, transaction.tax) == (expected.total, expected.tax) else (
            1 if transaction.total == expected.total else 2)
        seconds = (transaction.occurred_at - authorization.authorized_at).total_seconds()
        pair = _Pair(rank, seconds, transaction.line, authorization)
        known = closest.get(authorization.order_id)
        if known is None or seconds < known.seconds:
            closest[authorization.order_id] = pair
    return list(closest.values())


def _paired(transaction: StoreTransaction, pair: _Pair) -> Outcome:
    expected = pair.authorization.expected
    detail: dict[str, Any] = {"expected_total": expected.total, "expected_tax": expected.tax,
                              "seconds_after_authorization": round(pair.seconds)}
    if pair.rank == 1:
        detail["difference"] = transaction.tax - expected.tax  # the store's tax minus the order's
    elif pair.rank == 2:
        detail["difference"] = transaction.total - expected.total  # the store's total minus the order's
    return Outcome(STATUSES[pair.rank], pair.authorization.order_id, detail)


def _unmatched(transaction: StoreTransaction, authorizations: list[CardAuthorization], window: MatchWindow,
               claimed: Mapping[str, dict[str, Any]]) -> Outcome:
    at = transaction.occurred_at
    same = [item for item in authorizations if item.currency == transaction.currency]
    in_window = sorted({item.order_id for item in same if window.contains(item, at)})
    if in_window and all(order_id in claimed for order_id in in_window):
        return Outcome("unmatched", None, {"reason": "order_already_matched",
                                           "orders": [{"order": order_id, **claimed[order_id]} for order_id in in_window]})
    if in_window:  # every candidate went to a purchase that fits it better
        return Outcome("unmatched", None, {"reason": "orders_taken", "orders": in_window})
    near = [item for item in same if abs((at - item.authorized_at).total_seconds()) <= NEARBY_SECONDS]
    if not near:
        return Outcome("unmatched", None, {"reason": "unknown_card"})
    nearest = min(near, key=lambda item: abs((at - item.authorized_at).total_seconds()))
    return Outcome("unmatched", None, {"reason": "outside_window", "nearest_order": nearest.order_id,
                                       "authorized_at": nearest.authorized_at.isoformat()})
