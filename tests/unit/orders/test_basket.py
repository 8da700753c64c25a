from __future__ import annotations

import pytest

from basketpay.invariant import InvariantViolation
from basketpay.orders.basket import Basket, ChargeKind, Line


def test_counted_and_weighed_lines_cost_what_the_shelf_says() -> None:
    assert Line("milk", 349, 2).amount == 698
    assert Line("bananas", 69, 2_340, weighed=True).amount == 161  # 2.34 lb at $0.69: 161.46 -> 1.61
    assert Line("beef", 899, 1_250, weighed=True).amount == 1124  # 11.2375 -> 11.24 (half up)
    assert Line("soda", 199, 6, tax_rate_bps=725, deposit_per_unit=5).tax == 87  # 11.94 x 7.25% = 0.8657
    assert Line("soda", 199, 6, deposit_per_unit=5).deposit == 30


def test_charges_put_eligible_items_first_and_never_mark_anything_else_eligible() -> None:
    basket = Basket("usd", (Line("soap", 500, 1, tax_rate_bps=800), Line("apples", 300, 2, snap_eligible=True)),
                    fees=(("delivery", 399),), tip=500)
    charges = basket.charges()
    assert [(c.kind, c.reference) for c in charges] == [
        (ChargeKind.ITEM, "apples"), (ChargeKind.ITEM, "soap"), (ChargeKind.TAX, "soap"),
        (ChargeKind.FEE, "delivery"), (ChargeKind.TIP, "tip")]
    assert [c.snap_eligible for c in charges] == [True, False, False, False, False]
    assert basket.total() == 600 + 500 + 40 + 399 + 500
    assert basket.total(with_tip=False) == basket.total() - 500
    assert basket.snap_eligible_total == 600


def test_lines_change_in_place_and_bad_lines_are_bugs() -> None:
    basket = Basket("usd", (Line("a", 100, 1), Line("b", 200, 1)))
    assert [line.id for line in basket.with_line(Line("a", 150, 2)).lines] == ["a", "b"]
    assert basket.with_line(Line("a", 150, 2)).line("a").amount == 300
    assert [line.id for line in basket.with_line(Line("c", 1, 1)).without_line("a").lines] == ["b", "c"]
    with pytest.raises(InvariantViolation):
        Line("x", 100, -1)
    with pytest.raises(InvariantViolation):
        Basket("usd", (Line("a", 1, 1), Line("a", 2, 1)))
