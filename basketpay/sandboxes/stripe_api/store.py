"""The sandbox's memory: objects by id and idempotent responses by (API key, key),
both bounded, behind one asyncio.Lock so each request sees and leaves a consistent state."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from basketpay.sandboxes.fees import StripeFees
from basketpay.sandboxes.stripe_api.cards import PaymentMethod
from basketpay.sandboxes.stripe_api.errors import StripeApiError, resource_missing
from basketpay.sandboxes.stripe_api.intents import PaymentIntent
from basketpay.sandboxes.stripe_api.settlement import BalanceTransaction


@dataclass(frozen=True, slots=True)
class StripeSandboxConfig:
    objects_max: int = 100_000  # intents + payment methods + refunds, across all API keys
    idempotency_keys_max: int = 100_000  # oldest keys are forgotten first (Stripe: after 24 hours)
    idempotency_key_length_max: int = 255  # Stripe's limit
    webhook_url: str | None = None
    webhook_secret: str | None = None  # whsec_…
    webhook_timeout_ms: int = 5_000
    webhook_queue_max: int = 10_000  # events waiting to be delivered; more are dropped
    faults: dict[str, Any] | None = None  # initial faults (faults.py); POST /__sandbox/faults changes them
    fees: StripeFees = field(default_factory=StripeFees)
    settlement_dir: str | None = None  # where POST /__sandbox/settlement writes the day's files
    behaviour: dict[str, Any] | None = None  # approval and soft-decline rates (sandboxes/behaviour.py)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    fingerprint: str  # SHA-256 of method, path and parameters of the first request
    status_code: int
    body: bytes


@dataclass
class Store:
    config: StripeSandboxConfig
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    intents: dict[str, PaymentIntent] = field(default_factory=dict)
    methods: dict[str, PaymentMethod] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    ledger: list[BalanceTransaction] = field(default_factory=list)  # settlement.py; one per capture or refund
    responses: OrderedDict[tuple[str, str], StoredResponse] = field(default_factory=OrderedDict)

    def _check_room(self) -> None:
        if len(self.intents) + len(self.methods) + len(self.refunds) >= self.config.objects_max:
            raise StripeApiError(400, f"The sandbox holds its maximum of {self.config.objects_max} objects; "
                                 "restart it.", code="sandbox_objects_max")

    def add_intent(self, intent: PaymentIntent) -> None:
        self._check_room()
        self.intents[intent.id] = intent

    def add_method(self, method: PaymentMethod) -> None:
        self._check_room()
        self.methods[method.id] = method

    def add_refund(self, refund: dict[str, Any]) -> None:
        self._check_room()
        self.refunds[refund["id"]] = refund

    def intent(self, intent_id: str, param: str = "intent") -> PaymentIntent:
        found = self.intents.get(intent_id)
        if found is None:
            raise resource_missing("payment_intent", intent_id, param)
        return found

    def method(self, method_id: str, param: str = "payment_method") -> PaymentMethod:
        found = self.methods.get(method_id)
        if found is None:
            raise resource_missing("PaymentMethod", method_id, param)
        return found

    def refund(self, refund_id: str) -> dict[str, Any]:
        found = self.refunds.get(refund_id)
        if found is None:
            raise resource_missing("refund", refund_id, "id")
        return found

    def remember(self, key: tuple[str, str], response: StoredResponse) -> None:
        self.responses[key] = response
        while len(self.responses) > self.config.idempotency_keys_max:
            self.responses.popitem(last=False)
