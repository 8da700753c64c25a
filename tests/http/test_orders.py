"""Grocery orders end to end over HTTP: checkout across tenders, fulfilment changes,
delivery captures, tips, refunds and cancellation, with the order workflows running in
the server's worker against the sandboxes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from basketpay.connectors.sandbox.cards import LIMITED_CARD
from basketpay.server import ServerProcess
from tests.conftest import server_env
from tests.helpers import DECLINE_CARDS, new_key, post
from tests.orders_helpers import basket, card_tender, create_order, ebt_card, event, order_server, wait_for


@pytest.fixture(scope="module")
def orders_server(database_url: str, data_dir: Path) -> Iterator[tuple[ServerProcess, str]]:
    # A card authorization (Visa, customer-initiated) lasts 7 days: re-authorize 2 s after checkout.
    env = server_env(data_dir, BASKETPAY_ORDER_REAUTHORIZE_BEFORE_EXPIRY_SECONDS=str(7 * 86400 - 2))
    with order_server(database_url, env, data_dir / "orders-server.log") as running:
        yield running


@pytest.fixture()
def shop(orders_server: tuple[ServerProcess, str], merchant: tuple[str, str]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {merchant[1]}"}
    with httpx.Client(base_url=orders_server[0].base_url, headers=headers, timeout=30.0) as http:
        post(http, "/v1/order_policy", {"tip_change_window_seconds": 0}, key=None)
        yield http


def test_a_card_order_from_estimate_to_tip(shop: httpx.Client) -> None:
    created = create_order(shop, [card_tender(shop)], tip=300)
    assert created.status_code == 200, created.text
    order = created.json()
    assert order["status"] == "authorized"
    assert order["amount_total"] == 3206 and order["card_hold"] == 4000  # 115% of 32.06 = 36.87 -> $40
    weighed = event(shop, order["id"], type="weighed", line_id="beef", quantity=1250)
    assert weighed.status_code == 200, weighed.text
    assert weighed.json()["amount_total"] == 3206 + 225
    delivered = shop.post(f"/v1/orders/{order['id']}/deliver")
    assert delivered.status_code == 200, delivered.text
    done = wait_for(shop, order["id"], "completed")
    assert done["amount_captured"] == 3431 + 300
    assert done["tip"]["captured"] == 300
    assert done["ledger_entries"]


def _gift_card(shop: httpx.Client, amount: int) -> str:
    issued = post(shop, "/v1/gift_cards", {"amount": amount, "currency": "usd"})
    assert issued.status_code == 200, issued.text
    return str(issued.json()["id"])


def test_split_tender_ebt_credit_gift_card_card(shop: httpx.Client, orders_server: tuple[ServerProcess, str]) -> None:
    ebt = ebt_card(orders_server[1], snap=1_000)
    customer = "cus_split_" + new_key()[-8:]
    assert post(shop, "/v1/customer_credits", {"customer": customer, "amount": 500, "currency": "usd"}).status_code == 200
    gift = _gift_card(shop, 700)
    created = create_order(shop, [card_tender(shop), {"type": "gift_card", "gift_card": gift},
                                  {"type": "snap_ebt", "payment_method": ebt, "pin_token": "pin_ok"},
                                  {"type": "credit"}], customer=customer)
    assert created.status_code == 200, created.text
    order = created.json()
    tenders = {tender["id"]: tender for tender in order["tenders"]}
    assert [tender["type"] for tender in order["tenders"]] == ["snap_ebt", "credit", "gift_card", "card"]
    # EBT pays eligible items only (1,499) up to its balance (1,000); credit 500, gift card 700, card the rest.
    assert tenders["snap_ebt"]["authorized"] == 1_000
    assert tenders["credit"]["authorized"] == 500 and tenders[f"gift_card:{gift}"]["authorized"] == 700
    assert tenders["card"]["authorized"] == 1_500  # 3,206 - 2,200 = 1,006 x 115% = 1,157 -> $15
    # Apples go out of stock: the EBT share falls to the beef; the card pays less.
    assert event(shop, order["id"], type="out_of_stock", line_id="apples").status_code == 200
    assert shop.post(f"/v1/orders/{order['id']}/deliver").status_code == 200
    done = wait_for(shop, order["id"], "completed")
    captured = {tender["id"]: tender["captured"] for tender in done["tenders"]}
    assert captured == {"snap_ebt": 899, "credit": 500, f"gift_card:{gift}": 700, "card": 2_606 - 2_099}
    assert done["amount_captured"] == 2_606
    balance = shop.get(f"/v1/gift_cards/{gift}/balance", params={"currency": "usd"}).json()
    assert (balance["posted"], balance["pending"]) == (0, 0)
    # The EBT card got back what was not captured.
    assert httpx.post(orders_server[1] + f"/v1/payment_methods/{ebt}/balance", json={"pin_token": "pin_ok"},
                      headers={"Authorization": "Bearer sk_ebt_test"}).json()["snap"] == 101


def test_the_hold_grows_past_the_buffer_and_a_refused_increment_needs_the_customer(shop: httpx.Client) -> None:
    order = create_order(shop, [card_tender(shop)]).json()
    assert order["card_hold"] == 4_000
    # Twelve more sodas: 3,206 + 12 x (199 + 14 tax + 5 deposit) = 5,822 > 4,000: the hold grows to 115%.
    grown = event(shop, order["id"], type="quantity_changed", line_id="soda", quantity=18)
    assert grown.status_code == 200, grown.text
    assert grown.json()["amount_total"] == 5_821
    after = _wait(shop, order["id"], lambda o: o["card_hold"] > 4_000)
    assert after["card_hold"] == 7_000 and after["status"] == "authorized"
    assert [a["amount"] for a in after["tenders"][0]["authorizations"]] == [7_000]  # incremented in place

    # The limited card ($50) cannot grow to hold 30 sodas (8,436 -> $100): not in place, not apart.
    limited = create_order(shop, [card_tender(shop, LIMITED_CARD)]).json()
    assert limited["card_hold"] == 4_000
    event(shop, limited["id"], type="quantity_changed", line_id="soda", quantity=30)
    stuck = wait_for(shop, limited["id"], "requires_customer_action")
    assert stuck["requires_action"]["reason"] == "authorization_declined"
    assert stuck["requires_action"]["decline_code"] == "insufficient_funds"
    assert shop.post(f"/v1/orders/{limited['id']}/deliver").status_code == 409
    # The customer gives another card: the order is held on it, the old hold is released.
    resolved = shop.post(f"/v1/orders/{limited['id']}/resolve", json={"payment_method": card_tender(shop)["payment_method"]})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "authorized" and resolved.json()["card_hold"] == 10_000
    statuses = [a["status"] for a in resolved.json()["tenders"][0]["authorizations"]]
    assert statuses == ["released", "authorized"]
    assert shop.post(f"/v1/orders/{limited['id']}/deliver").status_code == 200
    assert wait_for(shop, limited["id"], "completed")["amount_captured"] == 8_436


def test_an_unanswered_customer_action_reverts_the_basket(shop: httpx.Client) -> None:
    post(shop, "/v1/order_policy", {"customer_action_timeout_seconds": 1}, key=None)
    order = create_order(shop, [card_tender(shop, LIMITED_CARD)]).json()
    event(shop, order["id"], type="quantity_changed", line_id="soda", quantity=30)
    wait_for(shop, order["id"], "requires_customer_action")
    reverted = wait_for(shop, order["id"], "authorized")
    assert reverted["amount_total"] == 3_206 and reverted["requires_action"] is None
    post(shop, "/v1/order_policy", {"customer_action_timeout_outcome": "cancel"}, key=None)
    second = create_order(shop, [card_tender(shop, LIMITED_CARD)]).json()
    event(shop, second["id"], type="quantity_changed", line_id="soda", quantity=30)
    canceled = wait_for(shop, second["id"], "canceled")
    assert canceled["tenders"][0]["authorizations"][0]["status"] == "released"


def test_tip_windows(shop: httpx.Client) -> None:
    post(shop, "/v1/order_policy", {"tip_change_window_seconds": 2, "tip_increase_window_seconds": 4}, key=None)
    order = create_order(shop, [card_tender(shop)], tip=500).json()
    shop.post(f"/v1/orders/{order['id']}/deliver")
    wait_for(shop, order["id"], "delivered")
    lowered = shop.post(f"/v1/orders/{order['id']}/tip", json={"amount": 200})  # within the change window
    assert lowered.status_code == 200 and lowered.json()["tip"]["amount"] == 200
    charged = wait_for(shop, order["id"], "completed")
    assert charged["tip"]["captured"] == 200
    refused = shop.post(f"/v1/orders/{order['id']}/tip", json={"amount": 100})
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "tip_decrease_not_allowed")
    raised = shop.post(f"/v1/orders/{order['id']}/tip", json={"amount": 450})
    assert raised.status_code == 200
    topped = _wait(shop, order["id"], lambda o: o["tip"]["captured"] == 450)
    assert len(topped["tip"]["charges"]) == 2 and topped["amount_captured"] == 3_206 + 450
    time.sleep(4.2)
    closed = shop.post(f"/v1/orders/{order['id']}/tip", json={"amount": 900})
    assert (closed.status_code, closed.json()["error"]["code"]) == (409, "tip_window_closed")


def test_refunds_go_back_to_the_tenders_that_paid(shop: httpx.Client, orders_server: tuple[ServerProcess, str]) -> None:
    ebt = ebt_card(orders_server[1], snap=5_000, number="5077031234567890131")
    order = create_order(shop, [card_tender(shop), {"type": "snap_ebt", "payment_method": ebt, "pin_token": "pin_ok"}],
                         ).json()
    shop.post(f"/v1/orders/{order['id']}/deliver")
    wait_for(shop, order["id"], "completed")
    # One of the two apples was missing: 300 back to EBT, which paid for the apples.
    apple = post(shop, f"/v1/orders/{order['id']}/refunds", {"lines": [{"line_id": "apples", "quantity": 1}]})
    assert apple.status_code == 200, apple.text
    assert apple.json()["refunds"][0]["by_tender"] == {"snap_ebt": 300}
    # Two sodas damaged: 398 + 28 tax + 10 deposit = 436, all paid by the card.
    soda = post(shop, f"/v1/orders/{order['id']}/refunds", {"lines": [{"line_id": "soda", "quantity": 2}]})
    assert soda.json()["refunds"][1]["by_tender"] == {"card": 436}
    done = _wait(shop, order["id"], lambda o: all(r["status"] == "succeeded" for r in o["refunds"]))
    assert done["amount_refunded"] == 736
    refunded = {tender["id"]: tender["refunded"] for tender in done["tenders"]}
    assert refunded == {"snap_ebt": 300, "card": 436}
    too_many = post(shop, f"/v1/orders/{order['id']}/refunds", {"lines": [{"line_id": "apples", "quantity": 2}]})
    assert (too_many.status_code, too_many.json()["error"]["code"]) == (400, "refund_exceeds_delivered")


def test_cancellation_before_and_after_delivery(shop: httpx.Client) -> None:
    before = create_order(shop, [card_tender(shop)]).json()
    assert shop.post(f"/v1/orders/{before['id']}/cancel").status_code == 200
    canceled = wait_for(shop, before["id"], "canceled")
    assert canceled["amount_captured"] == 0
    assert canceled["tenders"][0]["authorizations"][0]["status"] == "released"
    assert event(shop, before["id"], type="out_of_stock", line_id="apples").status_code == 409

    after = create_order(shop, [card_tender(shop)], tip=250).json()
    shop.post(f"/v1/orders/{after['id']}/deliver")
    wait_for(shop, after["id"], "completed")
    assert shop.post(f"/v1/orders/{after['id']}/cancel").status_code == 200
    undone = wait_for(shop, after["id"], "canceled")
    assert undone["amount_captured"] == 3_206 + 250 and undone["amount_refunded"] == 3_206 + 250


def test_a_declined_card_fails_the_checkout_and_releases_the_other_tenders(shop: httpx.Client) -> None:
    gift = _gift_card(shop, 1_000)
    number, _, decline_code = DECLINE_CARDS[1]
    declined = create_order(shop, [{"type": "gift_card", "gift_card": gift}, card_tender(shop, number)])
    assert declined.status_code == 402, declined.text
    assert declined.json()["error"]["decline_code"] == decline_code
    order_id = declined.json()["error"]["order"]["id"]
    failed = wait_for(shop, order_id, "failed")
    assert failed["tenders"][0]["authorizations"][0]["status"] == "released"
    balance = shop.get(f"/v1/gift_cards/{gift}/balance", params={"currency": "usd"}).json()
    assert balance["available"] == 1_000


def test_bad_input_writes_nothing_and_events_are_idempotent(shop: httpx.Client) -> None:
    cases = [
        ({"lines": [{"id": "a", "unit_price": 100, "quantity": -1}]}, "lines"),
        ({"lines": [{"id": "a", "unit_price": 100, "quantity": 1}, {"id": "a", "unit_price": 1, "quantity": 1}]},
         "lines"),
        ({"tenders": [{"type": "card", "payment_method": "pm_nope"}]}, "payment_method"),
        ({"tenders": [{"type": "gift_card", "gift_card": "gc_nope"}]}, "tenders"),
        ({"tenders": [{"type": "credit"}]}, "customer"),
    ]
    before = len(shop.get("/v1/orders", params={"limit": 100}).json()["data"])
    for change, param in cases:
        body = basket(tenders=[card_tender(shop)]) | change
        response = post(shop, "/v1/orders", body)
        assert 400 <= response.status_code < 500, response.text
        assert param in (response.json()["error"]["param"] or "") or response.status_code == 400
    assert len(shop.get("/v1/orders", params={"limit": 100}).json()["data"]) == before

    order = create_order(shop, [card_tender(shop)]).json()
    unknown = event(shop, order["id"], type="weighed", line_id="nope", quantity=1)
    assert (unknown.status_code, unknown.json()["error"]["param"]) == (400, "line_id")
    body = {"id": "evt-1", "type": "quantity_changed", "line_id": "soda", "quantity": 3}
    first = shop.post(f"/v1/orders/{order['id']}/events", json=body)
    again = shop.post(f"/v1/orders/{order['id']}/events", json=body)
    assert first.json()["amount_total"] == again.json()["amount_total"] == 3_206 - 3 * 218
    assert again.json()["version"] == first.json()["version"]
    other = shop.post(f"/v1/orders/{order['id']}/events", json={**body, "quantity": 4})
    assert other.status_code == 422
    shop.post(f"/v1/orders/{order['id']}/deliver")
    wait_for(shop, order["id"], "completed")
    late = event(shop, order["id"], type="out_of_stock", line_id="apples")
    assert (late.status_code, late.json()["error"]["code"]) == (409, "order_unexpected_state")


def _wait(shop: httpx.Client, order_id: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        order = shop.get(f"/v1/orders/{order_id}").json()
        if done(order):
            return order  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"order {order_id} never got there: {order}")


def test_a_scheduled_order_is_reauthorized_before_its_hold_lapses(shop: httpx.Client) -> None:
    slot = int(time.time()) + 10 * 86400
    order = create_order(shop, [card_tender(shop)], scheduled_for=slot).json()
    first = order["tenders"][0]["authorizations"][0]
    renewed = _wait(shop, order["id"], lambda o: o["tenders"][0]["authorizations"][0]["status"] == "released")
    authorizations = renewed["tenders"][0]["authorizations"]
    assert [a["purpose"] for a in authorizations] == ["hold", "reauthorization"]
    assert authorizations[1]["amount"] == first["amount"] and authorizations[1]["status"] == "authorized"
    assert renewed["card_hold"] == first["amount"]
    shop.post(f"/v1/orders/{order['id']}/deliver")
    assert wait_for(shop, order["id"], "completed")["amount_captured"] == 3_206


def test_every_step_is_an_event_for_webhooks(shop: httpx.Client, engine: Engine) -> None:
    order = create_order(shop, [card_tender(shop, LIMITED_CARD)], tip=100).json()
    event(shop, order["id"], type="quantity_changed", line_id="soda", quantity=30)
    wait_for(shop, order["id"], "requires_customer_action")
    shop.post(f"/v1/orders/{order['id']}/resolve", json={"payment_method": card_tender(shop)["payment_method"]})
    shop.post(f"/v1/orders/{order['id']}/deliver")
    wait_for(shop, order["id"], "completed")
    with engine.connect() as connection:
        types = connection.execute(text("SELECT type FROM events WHERE object_id = :id ORDER BY seq"),
                                   {"id": order["id"]}).scalars().all()
    assert types == ["order.authorized", "order.updated", "order.requires_customer_action", "order.hold_increased",
                     "order.delivered", "order.tip_captured", "order.completed"]
