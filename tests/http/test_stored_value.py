"""Gift cards and customer credit as guarded ledger liabilities."""

from __future__ import annotations

import httpx

from basketpay.ledger import chart
from tests.helpers import post


def test_a_gift_card_is_a_liability_that_cannot_be_overspent(client: httpx.Client, merchant: tuple[str, str]) -> None:
    issued = post(client, "/v1/gift_cards", {"amount": 2500, "currency": "usd"}, key="sell-gc-1")
    assert issued.status_code == 200, issued.text
    again = post(client, "/v1/gift_cards", {"amount": 2500, "currency": "usd"}, key="sell-gc-1")
    assert again.json() == issued.json()  # a retry sells nothing twice
    gift_card = issued.json()["id"]
    balance = client.get(f"/v1/gift_cards/{gift_card}/balance", params={"currency": "usd"}).json()
    assert (balance["posted"], balance["available"]) == (2500, 2500)
    cash = client.get(f"/v1/ledger/accounts/{chart.account_id(merchant[0], 'bank_cash', 'USD')}/balance").json()
    assert cash["posted"] == 2500
    account = chart.account_id(merchant[0], f"gift_card_liability:{gift_card}", "USD")
    receivables = chart.account_id(merchant[0], chart.CUSTOMER_RECEIVABLES, "USD")
    overspend = post(client, "/v1/ledger/entries", {"postings": [
        {"account": account, "direction": "debit", "amount": 2501},
        {"account": receivables, "direction": "credit", "amount": 2501}]})
    assert (overspend.status_code, overspend.json()["error"]["code"]) == (409, "balance_insufficient")


def test_customer_credit_accumulates_per_customer_and_currency(client: httpx.Client) -> None:
    for amount in (500, 250):
        granted = post(client, "/v1/customer_credits", {"customer": "cus_42", "amount": amount, "currency": "usd",
                                                        "reason": "late delivery"})
        assert granted.status_code == 200, granted.text
    assert client.get("/v1/customer_credits/cus_42/balance", params={"currency": "usd"}).json()["posted"] == 750
    assert client.get("/v1/customer_credits/cus_43/balance", params={"currency": "usd"}).status_code == 404
    bad = post(client, "/v1/customer_credits", {"customer": "cus_42", "amount": 0, "currency": "usd"})
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "amount")
