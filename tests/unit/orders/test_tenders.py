"""The tender split: examples, then properties over random baskets and tenders."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from basketpay.orders.basket import Basket, ChargeKind, Line
from basketpay.orders.holds import HoldPolicy, grown_hold, hold_amount
from basketpay.orders.tenders import TENDER_ORDER, Tender, TenderKind, ordered, refund_shares, split

EBT, CREDIT, CARD = Tender("ebt", TenderKind.SNAP_EBT, 1000), Tender("credit", TenderKind.CREDIT, 300), \
    Tender("card", TenderKind.CARD)


def test_ebt_pays_eligible_items_only_then_credit_then_gift_cards_then_card() -> None:
    basket = Basket("usd", (Line("apples", 600, 1, snap_eligible=True), Line("bread", 700, 1, snap_eligible=True),
                            Line("soap", 500, 1, tax_rate_bps=1000)), fees=(("delivery", 399),), tip=200)
    gift = Tender("gift", TenderKind.GIFT_CARD, 250)
    result = split(basket.charges(), [CARD, gift, CREDIT, EBT])
    assert result.tender_totals() == {"ebt": 1000, "credit": 300, "gift": 250, "card": 600 + 700 + 500 + 50 + 399
                                      + 200 - 1000 - 300 - 250}
    assert result.unpaid == 0
    bread = result.shares[1]
    assert bread == {"ebt": 400, "credit": 300}  # EBT ran out on the bread: credit takes over


def test_without_a_card_what_the_tenders_cannot_pay_is_unpaid() -> None:
    basket = Basket("usd", (Line("apples", 600, 1, snap_eligible=True), Line("soap", 500, 1)))
    assert split(basket.charges(), [EBT]).unpaid == 500  # EBT never pays for soap


def test_refunds_go_back_to_the_tenders_that_paid_in_proportion() -> None:
    assert refund_shares({"ebt": 400, "credit": 300}, {}, 700) == {"ebt": 400, "credit": 300}
    assert refund_shares({"ebt": 400, "credit": 300}, {}, 7) == {"ebt": 4, "credit": 3}
    assert refund_shares({"ebt": 1, "card": 1}, {}, 1) in ({"ebt": 1}, {"card": 1})
    assert refund_shares({"ebt": 400, "credit": 300}, {"ebt": 400}, 300) == {"credit": 300}


def test_the_hold_is_the_buffered_share_rounded_up_to_five_dollars() -> None:
    policy = HoldPolicy()
    assert hold_amount(8_700, "usd", policy) == 10_500  # 87.00 x 1.15 = 100.05 -> 105.00
    assert hold_amount(8_695, "usd", policy) == 10_000  # 99.99 -> 100.00
    assert hold_amount(0, "usd", policy) == 0
    assert hold_amount(1_000, "jpy", policy) == 1_150  # ¥5 steps: 1,150 is one
    assert grown_hold(10_000, 10_500, "usd", policy) is None
    assert grown_hold(10_600, 10_500, "usd", policy) == 12_500
    assert grown_hold(10_600, 10_500, "usd", HoldPolicy(increment_threshold_minor=500)) is None


lines = st.lists(st.builds(
    Line, id=st.uuids().map(str), unit_price=st.integers(0, 5_000), quantity=st.integers(0, 5_000),
    weighed=st.booleans(), snap_eligible=st.booleans(), tax_rate_bps=st.integers(0, 1_500),
), max_size=12, unique_by=lambda line: line.id)
baskets = st.builds(Basket, currency=st.just("usd"), lines=lines.map(tuple),
                    fees=st.lists(st.tuples(st.sampled_from(["delivery", "service", "bags"]), st.integers(0, 999)),
                                  max_size=3, unique_by=lambda fee: fee[0]).map(tuple),
                    tip=st.integers(0, 3_000))
tender_sets = st.tuples(
    st.none() | st.integers(0, 20_000).map(lambda b: Tender("ebt", TenderKind.SNAP_EBT, b)),
    st.none() | st.integers(0, 5_000).map(lambda b: Tender("credit", TenderKind.CREDIT, b)),
    st.lists(st.integers(0, 3_000), max_size=3).map(
        lambda balances: [Tender(f"gift{i}", TenderKind.GIFT_CARD, b) for i, b in enumerate(balances)]),
    st.booleans(),
).map(lambda t: [x for x in (t[0], t[1], *t[2], Tender("card", TenderKind.CARD) if t[3] else None) if x])


@settings(max_examples=300)
@given(basket=baskets, tenders=tender_sets)
def test_any_split_respects_ebt_rules_balances_tender_order_and_adds_up(basket: Basket, tenders: list[Tender]) -> None:
    charges = basket.charges()
    result = split(charges, tenders)
    kinds = {tender.id: tender.kind for tender in tenders}
    totals = result.tender_totals()
    assert sum(totals.values()) + result.unpaid == basket.total()
    ebt = sum(amount for tid, amount in totals.items() if kinds[tid] is TenderKind.SNAP_EBT)
    assert ebt <= basket.snap_eligible_total
    for charge, share in zip(charges, result.shares, strict=True):
        if charge.kind is not ChargeKind.ITEM or not charge.snap_eligible:
            assert all(kinds[tid] is not TenderKind.SNAP_EBT for tid in share)
    for tender in tenders:
        assert tender.balance is None or totals.get(tender.id, 0) <= tender.balance
    # Tender order: a later tender pays only what the earlier ones could not.
    for position, tender in enumerate(ordered(tenders)):
        if totals.get(tender.id, 0) and tender.kind is not TenderKind.SNAP_EBT:
            for earlier in ordered(tenders)[:position]:
                if earlier.kind is not TenderKind.SNAP_EBT and earlier.balance is not None:
                    assert totals.get(earlier.id, 0) == earlier.balance, (earlier, tender)
    if any(kinds[t] is TenderKind.CARD for t in kinds):
        assert result.unpaid == 0
    assert TENDER_ORDER[0] is TenderKind.SNAP_EBT


@settings(max_examples=200)
@given(paid=st.dictionaries(st.sampled_from(["ebt", "credit", "gift", "card"]), st.integers(1, 10_000), min_size=1),
       data=st.data())
def test_refund_shares_add_up_and_never_exceed_what_each_tender_paid(paid: dict[str, int], data: st.DataObject) -> None:
    refunded: dict[str, int] = {}
    for refund in range(8):  # some partial refunds, then the rest
        left = sum(paid.values()) - sum(refunded.values())
        if not left:
            break
        amount = left if refund == 7 else data.draw(st.integers(1, left))
        shares = refund_shares(paid, refunded, amount)
        assert sum(shares.values()) == amount
        for tender, value in shares.items():
            refunded[tender] = refunded.get(tender, 0) + value
            assert refunded[tender] <= paid[tender]
    assert refunded == paid or sum(refunded.values()) < sum(paid.values())
