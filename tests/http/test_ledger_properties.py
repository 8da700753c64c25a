"""Property: any interleaving of payment operations and ledger calls keeps every ledger
invariant (`basketpay ledger check`) and keeps each account's balance equal to what the
operations that succeeded say it should be. Hypothesis drives random sequences through
the HTTP API against the real server and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine

from basketpay.ledger import chart
from basketpay.ledger.check import check_ledger
from tests.helpers import card, post

AMOUNTS = st.integers(min_value=1, max_value=50_000)


class Books(RuleBasedStateMachine):
    client: httpx.Client
    engine: Engine
    merchant_id: str

    @initialize()
    def open_books(self) -> None:
        self.intents: dict[str, dict[str, Any]] = {}
        self.holds: dict[str, int] = {}  # hold id -> remaining
        self.clearing = 0
        self.wallet = 0  # the guarded liability's posted balance
        self.wallet_held = 0
        self.card = card(self.client)
        self.cash = self._account("bank_cash", "asset", "none")
        self.wallet_account = self._account("customer_credit_liability:cus", "liability", "non_negative")
        self.revenue = self._account("platform_revenue:service_fees", "revenue", "none")

    def _account(self, code: str, type_: str, guard: str) -> str:
        response = post(self.client, "/v1/ledger/accounts", {"code": code, "currency": "usd", "type": type_,
                                                              "guard": guard})
        if response.status_code == 409:  # a later example of the same test: the account exists
            raise AssertionError("accounts are per example")
        return str(response.json()["id"])

    @rule(amount=AMOUNTS, manual=st.booleans())
    def pay(self, amount: int, manual: bool) -> None:
        body = {"amount": amount, "currency": "usd", "capture_method": "manual" if manual else "automatic",
                "payment_method": self.card, "confirm": True}
        response = post(self.client, "/v1/payment_intents", body)
        assert response.status_code == 200, response.text
        intent = response.json()
        self.intents[intent["id"]] = intent
        self.clearing += intent["amount_received"]

    def _capturable(self) -> list[str]:
        return [i for i, intent in self.intents.items() if intent["status"] == "requires_capture"]

    @precondition(lambda self: self._capturable())
    @rule(data=st.data(), final=st.booleans())
    def capture(self, data: st.DataObject, final: bool) -> None:
        intent_id = data.draw(st.sampled_from(self._capturable()))
        amount = data.draw(st.integers(1, self.intents[intent_id]["amount_capturable"]))
        response = post(self.client, f"/v1/payment_intents/{intent_id}/capture",
                        {"amount_to_capture": amount, "final_capture": final})
        assert response.status_code == 200, response.text
        self.intents[intent_id] = response.json()
        self.clearing += amount

    @precondition(lambda self: self._capturable())
    @rule(data=st.data(), more=AMOUNTS)
    def increment(self, data: st.DataObject, more: int) -> None:
        intent_id = data.draw(st.sampled_from(self._capturable()))
        total = self.intents[intent_id]["amount"] + more
        response = post(self.client, f"/v1/payment_intents/{intent_id}/increment_authorization", {"amount": total})
        assert response.status_code == 200, response.text
        self.intents[intent_id] = response.json()

    @precondition(lambda self: self._capturable())
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        intent_id = data.draw(st.sampled_from(self._capturable()))
        response = post(self.client, f"/v1/payment_intents/{intent_id}/cancel")
        if response.status_code == 200:
            self.intents[intent_id] = response.json()
        else:  # partly captured: the API says to capture with final_capture instead
            assert response.json()["error"]["code"] == "payment_intent_partially_captured"

    def _refundable(self) -> list[str]:
        return [i for i, intent in self.intents.items() if intent["amount_received"] > intent["amount_refunded"]]

    @precondition(lambda self: self._refundable())
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        intent_id = data.draw(st.sampled_from(self._refundable()))
        intent = self.intents[intent_id]
        amount = data.draw(st.integers(1, intent["amount_received"] - intent["amount_refunded"]))
        assert post(self.client, "/v1/refunds", {"payment_intent": intent_id, "amount": amount}).status_code == 200
        self.intents[intent_id] = self.client.get(f"/v1/payment_intents/{intent_id}").json()
        self.clearing -= amount

    @rule(amount=AMOUNTS, spend=st.booleans())
    def wallet_entry(self, amount: int, spend: bool) -> None:
        debit, credit = (self.wallet_account, self.revenue) if spend else (self.cash, self.wallet_account)
        response = post(self.client, "/v1/ledger/entries", {"postings": [
            {"account": debit, "direction": "debit", "amount": amount},
            {"account": credit, "direction": "credit", "amount": amount}]})
        allowed = not spend or amount <= self.wallet - self.wallet_held
        assert response.status_code == (200 if allowed else 409), response.text
        if allowed:
            self.wallet += -amount if spend else amount

    @rule(amount=AMOUNTS)
    def hold_wallet(self, amount: int) -> None:
        response = post(self.client, "/v1/ledger/holds", {"debit_account": self.wallet_account,
                                                          "credit_account": self.revenue, "amount": amount})
        allowed = amount <= self.wallet - self.wallet_held
        assert response.status_code == (200 if allowed else 409), response.text
        if allowed:
            self.holds[response.json()["id"]] = amount
            self.wallet_held += amount

    @precondition(lambda self: self.holds)
    @rule(data=st.data(), final=st.booleans())
    def settle_hold(self, data: st.DataObject, final: bool) -> None:
        hold_id = data.draw(st.sampled_from(list(self.holds)))  # creation order: ids are random, a replay must pick the same
        amount = data.draw(st.integers(1, self.holds[hold_id]))
        response = post(self.client, f"/v1/ledger/holds/{hold_id}/post", {"amount": amount, "final": final})
        assert response.status_code == 200, response.text
        released = self.holds[hold_id] - amount if final else 0
        self.wallet -= amount
        self.wallet_held -= amount + released
        self.holds[hold_id] -= amount + released
        if not self.holds[hold_id]:
            del self.holds[hold_id]

    def _balance(self, account_id: str) -> dict[str, Any]:
        return self.client.get(f"/v1/ledger/accounts/{account_id}/balance").json()  # type: ignore[no-any-return]

    @invariant()
    def books_agree(self) -> None:
        if not hasattr(self, "cash"):
            return
        clearing = chart.account_id(self.merchant_id, chart.processor_clearing("sandbox"), "USD")
        if self.intents:
            assert self._balance(clearing)["posted"] == self.clearing
        held = sum(i["amount_capturable"] for i in self.intents.values())
        if self.intents:
            holds = chart.account_id(self.merchant_id, chart.CARD_AUTHORIZATION_HOLDS, "USD")
            assert self._balance(holds)["pending"] == held
        wallet = self._balance(self.wallet_account)
        assert (wallet["posted"], wallet["available"]) == (self.wallet, self.wallet - self.wallet_held)
        with self.engine.connect() as connection:
            report = check_ledger(connection)
        assert report.ok, report.violations


def test_random_interleavings_keep_every_invariant(client: httpx.Client, engine: Engine, server: Any) -> None:
    from sqlalchemy import create_engine as _create

    from basketpay.merchants.service import create_merchant

    class PerExample(Books):
        def __init__(self) -> None:
            super().__init__()
            with engine.begin() as connection:  # a merchant per example: examples never share accounts
                created = create_merchant(connection, "properties")
            self.merchant_id = created.merchant_id
            self.client = httpx.Client(base_url=server.base_url, timeout=30.0,
                                       headers={"Authorization": f"Bearer {created.secret_key}"})
            self.engine = engine

        def teardown(self) -> None:
            self.client.close()

    del _create
    run_state_machine_as_test(PerExample, settings=settings(
        max_examples=12, stateful_step_count=15, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
