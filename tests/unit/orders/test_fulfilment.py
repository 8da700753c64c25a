"""Item events on a basket, and random sequences of them against the payment rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from basketpay.orders.basket import Basket, Line
from basketpay.orders.fulfilment import (
    EventKind,
    ItemEvent,
    RejectedEvent,
    after_change,
    apply,
    delivery_captures,
    hold_for_capture,
    initial_hold,
)
from basketpay.orders.holds import HoldPolicy
from basketpay.orders.tenders import Tender, TenderKind

BASKET = Basket("usd", (Line("apples", 300, 2, snap_eligible=True), Line("beef", 899, 1_000, weighed=True),
                        Line("soda", 199, 6, deposit_per_unit=5, tax_rate_bps=700)), fees=(("delivery", 399),), tip=500)
TENDERS = [Tender("ebt", TenderKind.SNAP_EBT, 400), Tender("card", TenderKind.CARD)]


def test_each_event_kind_changes_the_basket() -> None:
    weighed = apply(BASKET, ItemEvent(EventKind.WEIGHED, "beef", quantity=1_250))
    assert weighed.line("beef").amount == 1124
    assert "apples" not in [line.id for line in apply(BASKET, ItemEvent(EventKind.OUT_OF_STOCK, "apples")).lines]
    swapped = apply(BASKET, ItemEvent(EventKind.SUBSTITUTED, "soda", line=Line("seltzer", 249, 6, tax_rate_bps=700)))
    assert [line.id for line in swapped.lines] == ["apples", "beef", "seltzer"]
    added = apply(BASKET, ItemEvent(EventKind.ADDED, "milk", line=Line("milk", 349, 1, snap_eligible=True)))
    assert added.line("milk").amount == 349
    assert apply(BASKET, ItemEvent(EventKind.QUANTITY_CHANGED, "soda", quantity=4)).line("soda").deposit == 20


@pytest.mark.parametrize(("event", "param"), [
    (ItemEvent(EventKind.WEIGHED, "nope", quantity=1), "line_id"),
    (ItemEvent(EventKind.QUANTITY_CHANGED, "soda", quantity=-1), "quantity"),
    (ItemEvent(EventKind.QUANTITY_CHANGED, "beef", quantity=2), "kind"),
    (ItemEvent(EventKind.WEIGHED, "soda", quantity=2), "kind"),
    (ItemEvent(EventKind.ADDED, "apples", line=Line("apples", 1, 1)), "line_id"),
    (ItemEvent(EventKind.SUBSTITUTED, "soda"), "line"),
])
def test_events_that_do_not_fit_are_rejected_with_the_parameter(event: ItemEvent, param: str) -> None:
    with pytest.raises(RejectedEvent) as rejected:
        apply(BASKET, event)
    assert rejected.value.param == param


def test_the_hold_grows_only_past_the_threshold_and_delivery_leaves_the_tip_for_later() -> None:
    policy = HoldPolicy()
    _, held = initial_hold(BASKET, TENDERS, policy)
    assert held % 500 == 0 and held >= (BASKET.total() - 400) * 115 // 100
    assert after_change(BASKET, TENDERS, held, policy).grow_to is None
    bigger = apply(BASKET, ItemEvent(EventKind.QUANTITY_CHANGED, "soda", quantity=60))
    grown = after_change(bigger, TENDERS, held, policy)
    assert grown.grow_to is not None and grown.grow_to >= grown.card_share
    captures = delivery_captures(bigger, TENDERS)
    assert captures["ebt"] == 400 and sum(captures.values()) == bigger.total(with_tip=False)


new_lines = st.builds(Line, id=st.uuids().map(lambda u: u.hex[:8]), unit_price=st.integers(1, 3_000),
                      quantity=st.integers(1, 12), snap_eligible=st.booleans(), tax_rate_bps=st.integers(0, 1_000))


@st.composite
def events(draw: st.DrawFn, basket: Basket) -> ItemEvent:
    if not basket.lines or draw(st.integers(0, 4)) == 0:
        line = draw(new_lines)
        return ItemEvent(EventKind.ADDED, line.id, line=line)
    target = draw(st.sampled_from(basket.lines))
    kind = draw(st.sampled_from([EventKind.OUT_OF_STOCK, EventKind.SUBSTITUTED,
                                 EventKind.WEIGHED if target.weighed else EventKind.QUANTITY_CHANGED]))
    if kind is EventKind.SUBSTITUTED:
        return ItemEvent(kind, target.id, line=draw(new_lines))
    return ItemEvent(kind, target.id, quantity=draw(st.integers(0, 3_000 if target.weighed else 20)))


@settings(max_examples=200)
@given(data=st.data(), ebt=st.integers(0, 5_000), credit=st.integers(0, 2_000))
def test_random_fulfilment_keeps_the_card_covered_and_captures_add_up(data: st.DataObject, ebt: int, credit: int) -> None:
    tenders = [Tender("ebt", TenderKind.SNAP_EBT, ebt), Tender("credit", TenderKind.CREDIT, credit),
               Tender("card", TenderKind.CARD)]
    policy = HoldPolicy(increment_threshold_minor=data.draw(st.integers(0, 1_000)))
    basket = BASKET
    _, held = initial_hold(basket, tenders, policy)
    for _ in range(data.draw(st.integers(0, 12))):
        event = data.draw(events(basket))
        basket = apply(basket, event)
        decision = after_change(basket, tenders, held, policy)
        if decision.grow_to is not None:
            assert decision.grow_to > held
            held = decision.grow_to
        assert decision.card_share <= held + policy.increment_threshold_minor
    captures = delivery_captures(basket, tenders)
    assert sum(captures.values()) == basket.total(with_tip=False)
    assert captures.get("ebt", 0) <= min(ebt, basket.snap_eligible_total)
    assert captures.get("credit", 0) <= credit
    assert captures.get("card", 0) <= held + policy.increment_threshold_minor
    raised = hold_for_capture(captures.get("card", 0), held)
    assert (raised or held) >= captures.get("card", 0)
