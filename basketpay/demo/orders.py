"""The grocery orders of `basketpay demo`: one coroutine per scenario, each driving an order
through the orders API the way a marketplace would (checkout across tenders, the shopper's
item events, delivery, the tip, refunds, cancellation), waiting for the order workflows the
server's worker runs, and checking what the money did. A check that fails raises
`ScenarioFailed`; the order is still reported, as far as it got."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from basketpay.demo.client import DemoClient, expect, failure_reason
from basketpay.demo.report import OrderTally
from basketpay.demo.shop import (
    APPLE,
    BASKET_TOTAL,
    BEEF_WEIGHED,
    CARD_HOLD,
    CREDIT_AMOUNT,
    GIFT_CARD_AMOUNT,
    ORDER_POLICY,
    PARTY_LINES,
    PEARS,
    SNAP_ELIGIBLE,
    SODA,
    Shop,
    ebt_sandbox,
    expect_order,
    expect_tenders,
)

__all__ = ["ORDER_POLICY", "ORDER_SCENARIOS", "PlannedOrder", "ebt_sandbox", "plan_orders", "run_order"]


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    index: int
    scenario: str


async def substitutions(shop: Shop) -> None:
    """Pears for the apples and the beef weighed heavier, paid by card; the customer raises the
    tip just after delivery (within the change window), and the raised tip is what is charged."""
    expect_order(await shop.checkout([await shop.card()], tip=300), "authorized", amount_total=BASKET_TOTAL)
    await shop.event("substituted", "apples", line=PEARS)
    total = BASKET_TOTAL + 100 + 225
    expect_order(await shop.event("weighed", "beef", quantity=BEEF_WEIGHED), "authorized", amount_total=total,
                 card_hold=CARD_HOLD)
    await shop.act("deliver")
    expect_order(await shop.reaches("delivered", "completed"), "delivered")  # else the change window has closed
    expect((await shop.act("tip", {"amount": 500}))["tip"]["amount"] == 500, "the tip was not raised")
    expect_tenders(expect_order(await shop.reaches("completed"), "completed", amount_captured=total + 500),
                   "captured", card=total)


async def ebt_split(shop: Shop) -> None:
    """SNAP EBT pays the eligible items only (not the soda, its tax and deposit, nor the fee),
    store credit next, the card the rest. The beef weighs more than estimated: the eligible
    total outgrows what EBT authorized, and the card pays the difference."""
    tenders = [await shop.snap_ebt(), await shop.credit(), await shop.card()]
    order = expect_order(await shop.checkout(tenders, tip=200), "authorized", amount_snap_eligible=SNAP_ELIGIBLE)
    expect_tenders(order, "authorized", snap_ebt=SNAP_ELIGIBLE, credit=CREDIT_AMOUNT, card=1_500)  # 1,207 → $15
    await shop.event("weighed", "beef", quantity=BEEF_WEIGHED)
    done = expect_order(await shop.deliver(), "completed", amount_snap_eligible=SNAP_ELIGIBLE + 225)
    card = BASKET_TOTAL + 225 - SNAP_ELIGIBLE - CREDIT_AMOUNT
    expect_tenders(done, "captured", snap_ebt=SNAP_ELIGIBLE, credit=CREDIT_AMOUNT, card=card)


async def gift_card(shop: Shop) -> None:
    """The gift card pays first, the card the rest; the tip goes on the card."""
    order = expect_order(await shop.checkout([await shop.gift_card(), await shop.card()], tip=150), "authorized")
    expect_tenders(order, "authorized", gift_card=GIFT_CARD_AMOUNT, card=3_000)  # 2,506 → $30
    done = expect_order(await shop.deliver(), "completed", amount_captured=BASKET_TOTAL + 150)
    expect_tenders(done, "captured", gift_card=GIFT_CARD_AMOUNT, card=BASKET_TOTAL - GIFT_CARD_AMOUNT)


async def missing_items(shop: Shop) -> None:
    """After delivery an apple is missing and two sodas are damaged: each refund goes back to
    the tender that paid for the item, the apple to EBT and the sodas to the card."""
    await shop.checkout([await shop.snap_ebt(), await shop.card()])
    expect_order(await shop.deliver(), "completed")
    for line_id, quantity, reason, paid_by in (("apples", 1, "missing", {"snap_ebt": APPLE}),
                                               ("soda", 2, "damaged", {"card": 2 * SODA})):
        body = {"lines": [{"line_id": line_id, "quantity": quantity}], "reason": reason}
        refund = (await shop.act("refunds", body))["refunds"][-1]
        expect(refund["by_tender"] == paid_by, f"{line_id} refunded to {refund['by_tender']}, expected {paid_by}")
    done = await shop.until(lambda order: all(item["status"] == "succeeded" for item in order["refunds"]), "refunds")
    expect_order(done, "completed", amount_refunded=APPLE + 2 * SODA)
    expect_tenders(done, "refunded", snap_ebt=APPLE, card=2 * SODA)


async def canceled_before_delivery(shop: Shop) -> None:
    """Canceled while the order is picked: every hold is released, nothing is captured."""
    await shop.checkout([await shop.gift_card(), await shop.card()])
    await shop.act("cancel", {"reason": "requested_by_customer"})
    done = expect_order(await shop.reaches("canceled", "failed"), "canceled", amount_captured=0)
    statuses = {item["status"] for tender in done["tenders"] for item in tender["authorizations"]}
    expect(statuses == {"released"}, f"{done['id']}: authorizations {sorted(statuses)} after the cancellation")


async def canceled_after_delivery(shop: Shop) -> None:
    """Canceled after delivery: everything captured, the tip included, is refunded."""
    await shop.checkout([await shop.card()], tip=250)
    expect_order(await shop.deliver(), "completed")
    await shop.act("cancel")
    paid = BASKET_TOTAL + 250
    expect_order(await shop.reaches("canceled", "failed"), "canceled", amount_captured=paid, amount_refunded=paid)


async def hold_grows(shop: Shop) -> None:
    """The customer adds a party's worth while the shopper picks: the card's share outgrows the
    hold, which grows by incremental authorization (the same authorization, a larger amount)."""
    order = expect_order(await shop.checkout([await shop.card()]), "authorized", card_hold=CARD_HOLD)
    for line in PARTY_LINES:
        order = await shop.event("added", str(line["id"]), line=line)
    total = order["amount_total"]
    grown = await shop.until(lambda current: current["status"] != "authorized" or current["card_hold"] >= total,
                             "the hold to grow")
    expect_order(grown, "authorized")
    holds = [item["amount"] for item in grown["tenders"][0]["authorizations"]]
    expect(holds == [grown["card_hold"]], f"{grown['id']}: card authorizations {holds}, expected one, incremented")
    expect_order(await shop.deliver(), "completed", amount_captured=total)


OrderScenario = Callable[[Shop], Awaitable[None]]
ORDER_SCENARIOS: dict[str, OrderScenario] = {
    # Names short enough for the report's table in 80 columns.
    "substituted": substitutions,
    "EBT split": ebt_split,
    "gift card": gift_card,
    "item refunds": missing_items,
    "cancel early": canceled_before_delivery,
    "cancel late": canceled_after_delivery,
    "hold grows": hold_grows,
}


def plan_orders(count: int) -> list[PlannedOrder]:
    """`count` orders cycling through the scenarios: a batch of 7 or more plays each."""
    return [PlannedOrder(index, name) for index, name in zip(range(count), itertools.cycle(ORDER_SCENARIOS))]


async def run_order(client: DemoClient, ebt: httpx.AsyncClient, planned: PlannedOrder, tally: OrderTally) -> None:
    shop = Shop(client, ebt, planned.index)
    failure = None
    try:
        await ORDER_SCENARIOS[planned.scenario](shop)
    # As for payments: whatever a scenario runs into is that order's failure, not the batch's.
    except Exception as error:
        failure = failure_reason(error)
    tally.record(planned.index, planned.scenario, shop.order, failure)

