"""The ledger API: accounts, entries (idempotent by client id), batches, reversals,
holds, guards, point-in-time balances, lists and the CSV statement; bad input gets a
4xx naming the parameter and writes nothing."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import httpx
import pytest

from tests.helpers import post


def account(client: httpx.Client, code: str, type_: str = "asset", currency: str = "usd", **extra: Any) -> str:
    response = post(client, "/v1/ledger/accounts", {"code": code, "currency": currency, "type": type_, **extra})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def lines(debit: str, credit: str, amount: int) -> list[dict[str, Any]]:
    return [{"account": debit, "direction": "debit", "amount": amount},
            {"account": credit, "direction": "credit", "amount": amount}]


def entry(client: httpx.Client, debit: str, credit: str, amount: int, **extra: Any) -> httpx.Response:
    return post(client, "/v1/ledger/entries", {"postings": lines(debit, credit, amount), **extra})


def balance(client: httpx.Client, account_id: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1/ledger/accounts/{account_id}/balance", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture()
def books(client: httpx.Client) -> dict[str, str]:
    return {
        "cash": account(client, "bank_cash:operating"),
        "credit": account(client, "customer_credit_liability:cus_1", "liability", guard="non_negative"),
        "revenue": account(client, "platform_revenue:service_fees", "revenue"),
    }


def test_an_entry_moves_balances_in_each_accounts_normal_direction(client: httpx.Client, books: dict[str, str]) -> None:
    response = entry(client, books["cash"], books["credit"], 2500, description="credit granted")
    assert response.status_code == 200, response.text
    assert [p["direction"] for p in response.json()["postings"]] == ["debit", "credit"]
    assert balance(client, books["cash"])["posted"] == 2500
    assert balance(client, books["credit"])["posted"] == 2500  # a liability grows with a credit


def test_a_client_entry_id_makes_posting_idempotent(client: httpx.Client, books: dict[str, str]) -> None:
    first = entry(client, books["cash"], books["revenue"], 700, client_entry_id="import-1")
    again = entry(client, books["cash"], books["revenue"], 700, client_entry_id="import-1")  # another key
    assert first.status_code == again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert balance(client, books["cash"])["posted"] == 700  # once
    other = entry(client, books["cash"], books["revenue"], 701, client_entry_id="import-1")
    assert (other.status_code, other.json()["error"]["code"]) == (409, "client_entry_id_reused")


@pytest.mark.parametrize(("postings", "param"), [
    ([{"direction": "debit", "amount": 5}, {"direction": "credit", "amount": 4}], "entries[0].postings"),
    ([{"direction": "debit", "amount": 0}, {"direction": "credit", "amount": 0}], "postings[0][amount]"),
    ([{"direction": "debit", "amount": -5}, {"direction": "credit", "amount": -5}], "postings[0][amount]"),
    ([{"direction": "debit", "amount": 2**63}, {"direction": "credit", "amount": 2**63}], "postings[0][amount]"),
    ([{"direction": "debit", "amount": 5}], "postings"),
])
def test_bad_entries_are_refused_and_write_nothing(
    client: httpx.Client, books: dict[str, str], postings: list[dict[str, Any]], param: str
) -> None:
    accounts = [books["cash"], books["revenue"]]
    body = {"postings": [{**line, "account": accounts[i]} for i, line in enumerate(postings)]}
    response = post(client, "/v1/ledger/entries", body)
    assert response.status_code == 400, response.text
    assert param in (response.json()["error"]["param"] or ""), response.json()
    assert balance(client, books["cash"])["posted"] == 0


def test_unknown_accounts_and_mixed_currencies_are_refused(client: httpx.Client, books: dict[str, str]) -> None:
    unknown = entry(client, books["cash"], "la_nosuchaccount", 5)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "resource_missing")
    euros = account(client, "bank_cash:operating", currency="eur")
    mixed = entry(client, books["cash"], euros, 5)
    assert (mixed.status_code, mixed.json()["error"]["code"]) == (400, "entry_unbalanced")
    assert balance(client, books["cash"])["posted"] == 0


def test_a_guard_refuses_what_would_take_a_balance_below_zero(client: httpx.Client, books: dict[str, str]) -> None:
    assert entry(client, books["cash"], books["credit"], 1000).status_code == 200  # grant 10.00
    spend = entry(client, books["credit"], books["revenue"], 1001)
    assert (spend.status_code, spend.json()["error"]["code"]) == (409, "balance_insufficient")
    assert balance(client, books["credit"])["posted"] == 1000
    assert entry(client, books["credit"], books["revenue"], 1000).status_code == 200


def test_a_batch_is_all_or_nothing(client: httpx.Client, books: dict[str, str]) -> None:
    good = [{"postings": lines(books["cash"], books["revenue"], n + 1)} for n in range(50)]
    response = post(client, "/v1/ledger/entries/batch", {"entries": good})
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == 50
    assert balance(client, books["cash"])["posted"] == sum(range(1, 51))
    bad = [*good, {"postings": lines(books["credit"], books["revenue"], 10**6)}]  # past the guard
    assert post(client, "/v1/ledger/entries/batch", {"entries": bad}).status_code == 409
    assert balance(client, books["cash"])["posted"] == sum(range(1, 51))


def test_a_reversal_names_what_it_reverses_and_happens_once(client: httpx.Client, books: dict[str, str]) -> None:
    original = entry(client, books["cash"], books["revenue"], 300).json()
    reversal = post(client, f"/v1/ledger/entries/{original['id']}/reverse", {})
    assert reversal.status_code == 200, reversal.text
    assert reversal.json()["reverses"] == original["id"]
    assert balance(client, books["cash"])["posted"] == 0
    assert client.get(f"/v1/ledger/entries/{original['id']}").json()["reversed_by"] == reversal.json()["id"]
    twice = post(client, f"/v1/ledger/entries/{original['id']}/reverse", {})
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "entry_already_reversed")


def test_holds_are_pending_until_posted_or_voided(client: httpx.Client, books: dict[str, str]) -> None:
    entry(client, books["cash"], books["credit"], 1000)
    hold = post(client, "/v1/ledger/holds", {"debit_account": books["credit"], "credit_account": books["revenue"],
                                             "amount": 600, "expires_at": int(time.time()) + 3600})
    assert hold.status_code == 200, hold.text
    held = balance(client, books["credit"])
    assert (held["posted"], held["pending_outgoing"], held["available"]) == (1000, 600, 400)
    over = entry(client, books["credit"], books["revenue"], 401)  # the hold counts against the guard
    assert over.status_code == 409
    hold_id = hold.json()["id"]
    too_much = post(client, f"/v1/ledger/holds/{hold_id}/post", {"amount": 601})
    assert (too_much.status_code, too_much.json()["error"]["param"]) == (400, "amount")
    partly = post(client, f"/v1/ledger/holds/{hold_id}/post", {"amount": 200, "final": False})
    assert (partly.json()["status"], partly.json()["remaining"]) == ("pending", 400)
    voided = post(client, f"/v1/ledger/holds/{hold_id}/void")
    assert (voided.json()["status"], voided.json()["released_amount"]) == ("posted", 400)
    assert balance(client, books["credit"])["available"] == 800
    assert post(client, f"/v1/ledger/holds/{hold_id}/void").json()["error"]["code"] == "hold_not_pending"


def test_balance_as_of_a_time(client: httpx.Client, books: dict[str, str]) -> None:
    entry(client, books["cash"], books["revenue"], 100)
    time.sleep(1.1)
    between = int(time.time())
    time.sleep(1.1)
    entry(client, books["cash"], books["revenue"], 50)
    assert balance(client, books["cash"], as_of=between)["posted"] == 100
    assert balance(client, books["cash"])["posted"] == 150


def test_entries_list_filters_and_pages(client: httpx.Client, books: dict[str, str]) -> None:
    for n in range(5):
        entry(client, books["cash"], books["revenue"], n + 1, object_id="order_42")
    entry(client, books["cash"], books["credit"], 9)
    first = client.get("/v1/ledger/entries", params={"object_id": "order_42", "limit": 3}).json()
    assert first["has_more"] and [e["postings"][0]["amount"] for e in first["data"]] == [5, 4, 3]
    rest = client.get("/v1/ledger/entries", params={"object_id": "order_42", "starting_after": first["data"][-1]["id"]})
    assert [e["postings"][0]["amount"] for e in rest.json()["data"]] == [2, 1]
    by_account = client.get("/v1/ledger/entries", params={"account": books["credit"]}).json()["data"]
    assert [e["postings"][0]["amount"] for e in by_account] == [9]


def test_statement_csv_has_a_running_balance(client: httpx.Client, books: dict[str, str]) -> None:
    entry(client, books["cash"], books["revenue"], 1050)
    entry(client, books["revenue"], books["cash"], 50)
    response = client.get(f"/v1/ledger/accounts/{books['cash']}/statement.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(row["direction"], row["amount"], row["posted_balance"]) for row in rows[1:]] == [
        ("debit", "10.50", "10.50"), ("credit", "0.50", "10.00")]


def test_a_chart_code_names_the_chart_account_the_payments_core_posts_to(
    client: httpx.Client, merchant: tuple[str, str]
) -> None:
    from basketpay.ledger import chart

    first = post(client, "/v1/ledger/accounts", {"code": "bank_cash", "currency": "usd", "type": "asset"})
    again = post(client, "/v1/ledger/accounts", {"code": "bank_cash", "currency": "usd", "type": "asset"})
    assert first.json()["id"] == again.json()["id"] == chart.account_id(merchant[0], "bank_cash", "USD")
    wrong = post(client, "/v1/ledger/accounts", {"code": "bank_cash", "currency": "usd", "type": "liability"})
    assert (wrong.status_code, wrong.json()["error"]["param"]) == (400, "type")
    listed = client.get("/v1/ledger/accounts", params={"code": "processor_clearing:sandbox", "currency": "usd"})
    assert [a["id"] for a in listed.json()["data"]] == [
        chart.account_id(merchant[0], "processor_clearing:sandbox", "USD")]


def test_another_merchants_account_is_invisible(client: httpx.Client, books: dict[str, str], server: Any) -> None:
    from sqlalchemy import create_engine

    from basketpay.merchants.service import create_merchant

    engine = create_engine(server.database_url)
    with engine.begin() as connection:
        other = create_merchant(connection, "other")
    engine.dispose()
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {other.secret_key}"}) as stranger:
        assert stranger.get(f"/v1/ledger/accounts/{books['cash']}/balance").status_code == 404
        assert entry(stranger, books["cash"], books["revenue"], 1).status_code == 400


def test_an_expired_hold_is_released_by_the_sweeper(
    client: httpx.Client, books: dict[str, str], settings: Any
) -> None:
    from tests.helpers import sweep_once

    entry(client, books["cash"], books["credit"], 1000)
    hold = post(client, "/v1/ledger/holds", {"debit_account": books["credit"], "credit_account": books["revenue"],
                                             "amount": 300, "expires_at": int(time.time()) + 1}).json()
    assert balance(client, books["credit"])["available"] == 700
    time.sleep(1.5)
    sweep_once(settings)  # (or the server's own sweeper, whichever runs first)
    expired = client.get(f"/v1/ledger/holds/{hold['id']}").json()
    assert (expired["status"], expired["released_amount"]) == ("expired", 300)
    assert balance(client, books["credit"])["available"] == 1000


def test_only_an_empty_account_closes_and_a_closed_one_takes_no_postings(
    client: httpx.Client, books: dict[str, str]
) -> None:
    entry(client, books["cash"], books["revenue"], 10)
    busy = post(client, f"/v1/ledger/accounts/{books['cash']}/close")
    assert (busy.status_code, busy.json()["error"]["code"]) == (409, "account_not_empty")
    empty = account(client, "shopper_payables", "liability")
    assert post(client, f"/v1/ledger/accounts/{empty}/close").json()["status"] == "closed"
    refused = entry(client, books["cash"], empty, 5)
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "account_closed")
