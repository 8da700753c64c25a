"""Matching purchases to card authorizations in memory: ranks, the window, the capture
grace, one order per purchase (closest in time wins), and why a purchase is unmatched."""

from __future__ import annotations

import datetime as dt

from basketpay.reconciliation.pos.matching import CardAuthorization, MatchWindow, match
from basketpay.reconciliation.pos.parser import StoreTransaction
from basketpay.reconciliation.pos.store_charges import StoreCharges
from basketpay.reconciliation.pos.summary import summarize, without_purchase

NOON = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
WINDOW = MatchWindow()


def _at(minutes: float) -> dt.datetime:
    return NOON + dt.timedelta(minutes=minutes)


def _purchase(line: int, minutes: float, total: int = 2_807, tax: int = 84, last4: str = "4242") -> StoreTransaction:
    return StoreTransaction(line, "store_1", _at(minutes), last4, "usd", total, tax)


def _order(order_id: str, minutes: float, captured: float | None = None, last4: str = "4242",
           total: int = 2_807, tax: int = 84) -> CardAuthorization:
    return CardAuthorization(order_id, "usd", last4, _at(minutes), None if captured is None else _at(captured),
                             StoreCharges(total, tax))


def test_each_status_and_reason() -> None:
    orders = [_order("ord_a", 0), _order("ord_b", 1, last4="1111"), _order("ord_c", 2, last4="2222"),
              _order("ord_d", 3, last4="3333")]
    purchases = [_purchase(2, 30), _purchase(3, 31, total=2_957, last4="1111"),
                 _purchase(4, 32, tax=90, last4="2222"), _purchase(5, 2.5, last4="9999"),
                 _purchase(6, 7 * 60, last4="4242")]
    outcomes = match(purchases, orders, WINDOW, {})
    assert {line: (o.status, o.order_id) for line, o in outcomes.items()} == {
        2: ("matched", "ord_a"), 3: ("total_mismatch", "ord_b"), 4: ("tax_mismatch", "ord_c"),
        5: ("unmatched", None), 6: ("unmatched", None)}
    assert outcomes[3].detail["difference"] == 150 and outcomes[3].detail["expected_total"] == 2_807
    assert outcomes[4].detail["difference"] == 6
    assert outcomes[5].detail == {"reason": "unknown_card"}
    assert outcomes[6].detail["reason"] == "outside_window" and outcomes[6].detail["nearest_order"] == "ord_a"
    missing = without_purchase(orders, purchases, {o.order_id for o in outcomes.values() if o.order_id})
    assert [item.order_id for item in missing] == ["ord_d"]
    summary = summarize(purchases, outcomes, missing, WINDOW)
    assert summary["counts"] == {"matched": 1, "tax_mismatch": 1, "total_mismatch": 1, "unmatched": 2}
    assert summary["match_rate"] == 0.2 and summary["orders_without_purchase_count"] == 1
    assert summary["amounts"]["usd"]["total_difference"] == 150


def test_an_order_is_matched_once_the_closest_purchase_wins() -> None:
    purchases = [_purchase(2, 50), _purchase(3, 10)]
    outcomes = match(purchases, [_order("ord_a", 0)], WINDOW, {})
    assert (outcomes[3].status, outcomes[3].order_id) == ("matched", "ord_a")
    assert outcomes[2].status == "unmatched" and outcomes[2].detail == {"reason": "orders_taken", "orders": ["ord_a"]}


def test_two_orders_on_one_card_each_get_the_purchase_closest_to_it() -> None:
    orders = [_order("ord_a", 0), _order("ord_b", 60)]
    outcomes = match([_purchase(2, 70), _purchase(3, 5)], orders, WINDOW, {})
    assert (outcomes[2].order_id, outcomes[3].order_id) == ("ord_b", "ord_a")


def test_an_exact_match_is_preferred_to_a_closer_mismatch() -> None:
    orders = [_order("ord_a", 0, total=1_000, tax=0), _order("ord_b", 20)]
    outcomes = match([_purchase(2, 30)], orders, WINDOW, {})
    assert (outcomes[2].status, outcomes[2].order_id) == ("matched", "ord_b")


def test_the_window_and_the_capture_grace() -> None:
    captured = [_order("ord_a", 0, captured=60)]
    assert match([_purchase(2, 120)], captured, WINDOW, {})[2].status == "matched"  # within the hour's grace
    assert match([_purchase(2, 121)], captured, WINDOW, {})[2].detail["reason"] == "outside_window"
    assert match([_purchase(2, -1)], [_order("ord_a", 0)], WINDOW, {})[2].detail["reason"] == "outside_window"
    assert match([_purchase(2, 6 * 60 + 1)], [_order("ord_a", 0)], WINDOW, {})[2].status == "unmatched"
    assert match([_purchase(2, 6 * 60 + 1)], [_order("ord_a", 0)], MatchWindow(7 * 3600), {})[2].status == "matched"


def test_an_order_another_feed_matched_is_not_matched_again() -> None:
    claimed = {"ord_a": {"feed": "posf_1", "line": 2, "status": "matched"}}
    outcome = match([_purchase(2, 30)], [_order("ord_a", 0)], WINDOW, claimed)[2]
    assert outcome.status == "unmatched" and outcome.detail["reason"] == "order_already_matched"
    assert outcome.detail["orders"] == [{"order": "ord_a", "feed": "posf_1", "line": 2, "status": "matched"}]
