"""The EBT sandbox's state: cards with SNAP balances, payments that reserve part of a
balance (authorized), take it (captured, up to the authorization) or give it back
(cancelled, refunded). In memory, bounded, one asyncio.Lock per request.

PIN: EBT cards are PIN cards; a real EBT processor collects the PIN in its own
component and hands the merchant a token for that one entry. Here `pin_token` stands
for it: "pin_ok" is a correct PIN, "pin_invalid" a wrong one, absent means none was
entered. A balance inquiry and an authorization need a PIN; capture, cancel and
refunds of an authorized payment do not.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

from basketpay.invariant import invariant

CARDS_MAX = 100_000
PAYMENTS_MAX = 100_000
DEFAULT_SNAP_BALANCE = 20_000  # $200.00 for a card the sandbox has not seen


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(slots=True)
class Card:
    id: str
    number: str  # sandbox only: a real processor keeps it in its vault
    snap_balance: int

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "object": "ebt_payment_method", "last4": self.number[-4:]}


@dataclass(slots=True)
class Payment:
    id: str
    card_id: str
    reference: str
    amount: int  # authorized
    captured: int = 0
    refunded: int = 0
    status: str = "authorized"  # authorized | captured | cancelled | declined
    decline_code: str | None = None
    refunds: list[int] = field(default_factory=list)

    def check(self) -> None:
        invariant(0 <= self.refunded <= self.captured <= self.amount, f"ebt payment {self.id} amounts out of order")

    def public(self) -> dict[str, Any]:
        body = asdict(self)
        body["object"] = "ebt_payment"
        return body


def _pin(pin_token: str | None) -> None:
    if pin_token is None:
        raise Refused(400, "pin_required", "The cardholder must enter the PIN for this operation.")
    if pin_token != "pin_ok":
        raise Refused(402, "invalid_pin", "The PIN entered is incorrect.")


class Store:
    def __init__(self, default_balance: int = DEFAULT_SNAP_BALANCE) -> None:
        self.lock = asyncio.Lock()
        self._default_balance = default_balance
        self._cards: OrderedDict[str, Card] = OrderedDict()
        self._by_number: dict[str, str] = {}
        self._payments: OrderedDict[str, Payment] = OrderedDict()
        self.recorded: OrderedDict[str, tuple[str, int, dict[str, Any]]] = OrderedDict()  # idempotency

    def tokenize(self, number: str) -> Card:
        if not number.isdigit() or not 16 <= len(number) <= 19:
            raise Refused(400, "invalid_card_number", "An EBT card number has 16 to 19 digits.")
        existing = self._by_number.get(number)
        if existing is not None:
            return self._cards[existing]
        card = Card("ebtpm_" + secrets.token_hex(10), number, self._default_balance)
        self._cards[card.id], self._by_number[number] = card, card.id
        while len(self._cards) > CARDS_MAX:
            _, dropped = self._cards.popitem(last=False)
            self._by_number.pop(dropped.number, None)
        return card

    def card(self, card_id: str) -> Card:
        card = self._cards.get(card_id)
        if card is None:
            raise Refused(404, "resource_missing", f"No such EBT payment method: {card_id}")
        return card

    def set_balance(self, number: str, snap_balance: int) -> Card:
        card = self.tokenize(number)
        card.snap_balance = snap_balance
        return card

    def balance(self, card_id: str, pin_token: str | None) -> int:
        card = self.card(card_id)
        _pin(pin_token)
        return card.snap_balance

    def authorize(self, card_id: str, amount: int, reference: str, pin_token: str | None) -> Payment:
        card = self.card(card_id)
        invariant(amount > 0, "a positive amount")
        payment = Payment("ebtpay_" + secrets.token_hex(10), card.id, reference, amount)
        try:
            _pin(pin_token)
            if amount > card.snap_balance:
                raise Refused(402, "insufficient_balance", "The card's SNAP balance is lower than the amount.")
            card.snap_balance -= amount
        except Refused as refused:
            if refused.status != 402:
                raise
            payment.status, payment.decline_code, payment.amount = "declined", refused.code, 0
        self._payments[payment.id] = payment
        while len(self._payments) > PAYMENTS_MAX:
            self._payments.popitem(last=False)
        return payment

    def payment(self, payment_id: str) -> Payment:
        payment = self._payments.get(payment_id)
        if payment is None:
            raise Refused(404, "resource_missing", f"No such EBT payment: {payment_id}")
        return payment

    def by_reference(self, reference: str) -> list[Payment]:
        return [payment for payment in reversed(self._payments.values()) if payment.reference == reference]

    def capture(self, payment_id: str, amount: int) -> Payment:
        """Take `amount` (at most what was authorized); the rest goes back to the card."""
        payment = self.payment(payment_id)
        if payment.status != "authorized":
            raise Refused(409, "payment_unexpected_state", f"The payment is {payment.status}.")
        if not 0 < amount <= payment.amount:
            raise Refused(400, "amount_too_large", "A capture is at most the authorized amount.")
        self.card(payment.card_id).snap_balance += payment.amount - amount
        payment.captured, payment.status = amount, "captured"
        payment.check()
        return payment

    def cancel(self, payment_id: str) -> Payment:
        payment = self.payment(payment_id)
        if payment.status != "authorized":
            raise Refused(409, "payment_unexpected_state", f"The payment is {payment.status}.")
        self.card(payment.card_id).snap_balance += payment.amount
        payment.status = "cancelled"
        return payment

    def refund(self, payment_id: str, amount: int) -> Payment:
        payment = self.payment(payment_id)
        if payment.status != "captured" or not 0 < amount <= payment.captured - payment.refunded:
            raise Refused(400, "amount_too_large", "A refund is at most what was captured and not refunded.")
        payment.refunded += amount
        payment.refunds.append(amount)
        self.card(payment.card_id).snap_balance += amount
        payment.check()
        return payment
