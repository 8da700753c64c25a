"""Tokenizing cards and opening them again for an authorization.

The card number is sealed before it reaches the database; the CVC never does:
it is held in process memory (bounded, short-lived) until the authorization,
and forgotten after it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import OrderedDict
from typing import Any

from psycopg import AsyncConnection

from basketpay.connectors.base import Card
from basketpay.db.statements import MERCHANT_SCOPE
from basketpay.errors import NotFound
from basketpay.ids import new_id
from basketpay.vault.cards import validate_card
from basketpay.vault.crypto import Sealed
from basketpay.vault.keyring import Keyring

CVC_TTL_SECONDS = 600
CVC_ENTRIES_MAX = 10_000


class CvcMemory:
    """CVCs in memory only, keyed by payment method, for at most CVC_TTL_SECONDS."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def remember(self, payment_method_id: str, cvc: str) -> None:
        self._entries[payment_method_id] = (time.monotonic() + CVC_TTL_SECONDS, cvc)
        while len(self._entries) > CVC_ENTRIES_MAX:
            self._entries.popitem(last=False)

    def take(self, payment_method_id: str) -> str | None:
        entry = self._entries.pop(payment_method_id, None)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]


def payment_method_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "payment_method",
        "type": row.type,
        "card": {
            "brand": row.brand,
            "last4": row.last4,
            "exp_month": row.exp_month,
            "exp_year": row.exp_year,
            "bin": row.bin,
        },
        "created": int(row.created_at.timestamp()),
    }


class Vault:
    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._cvcs = CvcMemory()

    def tokenize(
        self, merchant_id: str, number: str, exp_month: int, exp_year: int, cvc: str | None, now: dt.datetime
    ) -> dict[str, Any]:
        """Validate and seal a card; return the payment_methods row to insert."""
        brand = validate_card(number, exp_month, exp_year, cvc, now.date())
        payment_method_id = new_id("pm")
        sealed = self.keyring.seal(number.encode(), payment_method_id.encode())
        if cvc is not None:
            self._cvcs.remember(payment_method_id, cvc)
        return {
            "id": payment_method_id, "merchant_id": merchant_id, "type": "card", "brand": brand,
            "bin": number[:6], "last4": number[-4:], "exp_month": exp_month, "exp_year": exp_year,
            "key_id": sealed.key_id, "wrapped_data_key": sealed.wrapped_data_key,
            "card_ciphertext": sealed.ciphertext, "created_at": now,
        }

    async def load(self, connection: AsyncConnection[Any], merchant_id: str, payment_method_id: str) -> Any:
        query = "SELECT * FROM payment_methods WHERE id = %(id)s AND " + MERCHANT_SCOPE
        row = await (await connection.execute(query, {"id": payment_method_id, "merchant_id": merchant_id})).fetchone()
        if row is None:
            raise NotFound(
                f"No such PaymentMethod: '{payment_method_id}'", code="resource_missing", param="payment_method"
            )
        return row

    def request_fingerprint(self, card: Any) -> dict[str, Any]:
        """What an idempotency digest may see of a card: a keyed hash of the number (an
        unkeyed hash of a card number can be brute-forced), the expiry, and no CVC at all."""
        return {
            "number_hmac": self.keyring.fingerprint(card.number.encode()),
            "exp_month": card.exp_month,
            "exp_year": card.exp_year,
        }

    def open_card(self, row: Any) -> Card:
        sealed = Sealed(row.key_id, bytes(row.wrapped_data_key), bytes(row.card_ciphertext))
        number = self.keyring.open(sealed, row.id.encode()).decode()
        return Card(number, row.exp_month, row.exp_year, self._cvcs.take(row.id))
