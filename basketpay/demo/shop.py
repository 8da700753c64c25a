"""One grocery order's calls for `basketpay demo`: to the orders API and to the EBT sandbox,
waiting for the order workflows the server's worker runs, and the checks of what the money
did. A check that fails raises `ScenarioFailed`."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from basketpay.demo.client import DemoClient, ScenarioFailed, expect, expect_status

ORDERS = "/v1/orders"
# Short tip windows so that a delivered order completes within seconds (the default is 2 hours).
ORDER_POLICY = {"tip_change_window_seconds": 3, "tip_increase_window_seconds": 8}
WAIT_SECONDS_MAX = 30.0
POLL_INTERVAL_SECONDS = 0.05
EBT_API_KEY = "sk_ebt_test"
EBT_CARD_PREFIX = "5077031"  # + the order's index in 12 digits: one EBT card per order, balances apart
SNAP_BALANCE = 5_000
CREDIT_AMOUNT = 500
GIFT_CARD_AMOUNT = 700
VISA = "4242424242424242"


# Every order starts from this basket: $3 apples ×2 (EBT), 1.000 lb beef at $8.99/lb (EBT), soda ×6
# at $1.99 (+7% tax, 5¢ deposit), $3.99 delivery: items 600 + 899 + 1,194 (1,499 EBT-eligible);
# total 2,693 + 84 tax + 30 deposit + 399 fee = 3,206, held on a card as $40 (115%, up to $5).
BASKET: dict[str, Any] = {
    "currency": "usd",
    "lines": [
        {"id": "apples", "unit_price": 300, "quantity": 2, "snap_eligible": True},
        {"id": "beef", "unit_price": 899, "quantity": 1000, "weighed": True, "snap_eligible": True},
        {"id": "soda", "unit_price": 199, "quantity": 6, "tax_rate_bps": 700, "deposit_per_unit": 5},
    ],
    "fees": [{"name": "delivery", "amount": 399}],
}
BASKET_TOTAL = 3_206
SNAP_ELIGIBLE = 1_499
CARD_HOLD = 4_000
PEARS = {"id": "pears", "unit_price": 350, "quantity": 2, "snap_eligible": True}  # for the apples: +100
BEEF_WEIGHED = 1_250  # 1.25 lb: +225
APPLE = 300
SODA = 199 + 14 + 5  # one soda with its tax and deposit
# Added while shopping: far more than the $40 hold covers.
PARTY_LINES = (
    {"id": "water", "unit_price": 549, "quantity": 4, "deposit_per_unit": 30},
    {"id": "salmon", "unit_price": 1_599, "quantity": 1_500, "weighed": True, "snap_eligible": True},
    {"id": "cake", "unit_price": 2_499, "quantity": 1, "tax_rate_bps": 700},
)



class Shop:
    """One order's calls: to the API, and to the EBT sandbox for its EBT card. It keeps the
    order as the API last returned it, for the report."""

    def __init__(self, client: DemoClient, ebt: httpx.AsyncClient, index: int) -> None:
        self.client, self.ebt, self.index = client, ebt, index
        self.customer = f"cus_demo_{index}"
        self.order: dict[str, Any] | None = None

    async def card(self) -> dict[str, Any]:
        return {"type": "card", "payment_method": await self.client.card(VISA)}

    async def snap_ebt(self) -> dict[str, Any]:
        number = f"{EBT_CARD_PREFIX}{self.index:012d}"
        expect_status(await self.ebt.post("/__sandbox/balances", json={"card_number": number, "snap": SNAP_BALANCE}))
        token = expect_status(await self.ebt.post("/v1/payment_methods", json={"card_number": number}))["id"]
        return {"type": "snap_ebt", "payment_method": token, "pin_token": "pin_ok"}

    async def credit(self) -> dict[str, Any]:
        body = {"customer": self.customer, "amount": CREDIT_AMOUNT, "currency": "usd"}
        expect_status(await self.client.post("/v1/customer_credits", body))
        return {"type": "credit"}

    async def gift_card(self) -> dict[str, Any]:
        issued = expect_status(await self.client.post("/v1/gift_cards", {"amount": GIFT_CARD_AMOUNT, "currency": "usd"}))
        return {"type": "gift_card", "gift_card": issued["id"]}

    async def checkout(self, tenders: list[dict[str, Any]], tip: int = 0) -> dict[str, Any]:
        body = {**BASKET, "customer": self.customer, "tip": tip, "tenders": tenders}
        return self._seen(expect_status(await self.client.post(ORDERS, body)))

    async def act(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST /v1/orders/{id}/{action}: events, deliver, tip, refunds, cancel."""
        return self._seen(expect_status(await self.client.post(f"{self._path}/{action}", body or {})))

    async def event(self, kind: str, line_id: str, **fields: Any) -> dict[str, Any]:
        return await self.act("events", {"id": f"evt_{uuid.uuid4().hex}", "type": kind, "line_id": line_id, **fields})

    async def until(self, done: Callable[[dict[str, Any]], bool], waiting_for: str) -> dict[str, Any]:
        """The order once `done` says so: the workflows run in the server's worker, after the request."""
        deadline = time.monotonic() + WAIT_SECONDS_MAX
        while True:
            order = self._seen(expect_status(await self.client.get(self._path)))
            if done(order):
                return order
            expect(time.monotonic() < deadline,
                   f"{order['id']}: still {order['status']} after {WAIT_SECONDS_MAX:.0f} s of waiting for {waiting_for}")
            await asyncio.sleep(POLL_INTERVAL_SECONDS)

    async def reaches(self, *statuses: str) -> dict[str, Any]:
        return await self.until(lambda order: order["status"] in statuses, " or ".join(statuses))

    async def deliver(self) -> dict[str, Any]:
        """Deliver, and wait for the worker to capture each tender and, once the tip change window
        has closed, to charge the tip."""
        await self.act("deliver")
        return await self.reaches("completed", "canceled", "failed")

    @property
    def _path(self) -> str:
        if self.order is None:
            raise ScenarioFailed("no order to act on: the checkout has not answered")
        return f"{ORDERS}/{self.order['id']}"

    def _seen(self, order: dict[str, Any]) -> dict[str, Any]:
        expect(order.get("object") == "order", f"expected an order, got {order.get('object')!r}")
        self.order = order
        return order


def by_tender(order: dict[str, Any], field: str) -> dict[str, int]:
    """One of each tender's amounts (authorized, captured, refunded), by tender type."""
    return {tender["type"]: tender[field] for tender in order["tenders"]}


def expect_tenders(order: dict[str, Any], field: str, **expected: int) -> None:
    actual = by_tender(order, field)
    expect(actual == expected, f"{order['id']}: {field} by tender {actual}, expected {expected}")


def expect_order(order: dict[str, Any], status: str, **amounts: int) -> dict[str, Any]:
    """Check the status, the amounts given, and that the order's money adds up."""
    label = order["id"]
    expect(order["status"] == status, f"{label}: status {order['status']!r}, expected {status!r}")
    for field, expected in amounts.items():
        expect(order[field] == expected, f"{label}: {field} is {order[field]}, expected {expected}")
    for tender in order["tenders"]:
        for item in tender["authorizations"]:
            expect(0 <= item["refunded"] <= item["captured"] <= item["amount"],
                   f"{label}: {item['id']} refunded {item['refunded']} of {item['captured']} captured, "
                   f"{item['amount']} authorized")
    captured, tip = sum(by_tender(order, "captured").values()), order["tip"]
    expect(order["amount_captured"] == captured + tip["captured"], f"{label}: amount_captured is not the sum")
    ebt = by_tender(order, "captured").get("snap_ebt", 0)
    expect(ebt <= order["amount_snap_eligible"], f"{label}: EBT captured {ebt}, more than the eligible items")
    expect(order["amount_refunded"] <= order["amount_captured"], f"{label}: refunded more than captured")
    if status == "completed":
        expect(captured == order["amount_total"] and tip["captured"] == tip["amount"],
               f"{label}: completed with {captured} of {order['amount_total']} captured, tip {tip}")
    return order


def ebt_sandbox(ebt_url: str, timeout_seconds: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=ebt_url, headers={"Authorization": f"Bearer {EBT_API_KEY}"},
                             timeout=timeout_seconds)
