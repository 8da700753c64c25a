"""The sandbox's in-memory state: payments and idempotency records, each bounded (the
oldest is forgotten first), behind one asyncio.Lock held for a whole request so that an
idempotency check and the operation it guards are one atomic step."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import secrets
import string
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from basketpay.sandboxes.adyen_api.config import AdyenSandboxConfig
from basketpay.sandboxes.adyen_api.parsing import Amount, ModificationRequest, PaymentRequest, TechnicalCancelRequest
from basketpay.sandboxes.adyen_api.payments import Modification, ModificationKind, Payment, apply, refusal
from basketpay.sandboxes.adyen_api.results import outcome_for
from basketpay.sandboxes.adyen_api.settlement import JournalLine, modification_line, sale_line
from basketpay.sandboxes.behaviour import behaviour_from_config
from basketpay.sandboxes.fees import card_funding
from basketpay.vault.cards import card_brand

PSP_REFERENCE_LENGTH = 16
_PSP_ALPHABET = string.ascii_uppercase + string.digits


def new_psp_reference() -> str:
    return "".join(secrets.choice(_PSP_ALPHABET) for _ in range(PSP_REFERENCE_LENGTH))


@dataclass(frozen=True, slots=True)
class Recorded:
    fingerprint: str
    status_code: int
    body: dict[str, Any]


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _bound(records: OrderedDict[Any, Any], size_max: int) -> None:
    while len(records) > size_max:
        records.popitem(last=False)  # the oldest is forgotten first


class Store:
    def __init__(self, config: AdyenSandboxConfig) -> None:
        self.lock = asyncio.Lock()
        self._config = config
        self._payments: OrderedDict[str, Payment] = OrderedDict()
        self._idempotency: OrderedDict[tuple[str, str], Recorded] = OrderedDict()
        # (merchant account, merchant reference) -> pspReference, for technical cancels
        self._by_reference: OrderedDict[tuple[str, str], str] = OrderedDict()
        # technical cancels by the reference they name, for a payment that arrives after them
        self._technical_cancels: OrderedDict[tuple[str, str], TechnicalCancelRequest] = OrderedDict()
        self.ledger: list[JournalLine] = []  # settlement.py: what moved money, with its fees
        # behaviour.py: answers for cards that are not test cards; set_behaviour(store, …) replaces it.
        self.behaviour = behaviour_from_config(config)

    def recorded(self, api_key: str, idempotency_key: str) -> Recorded | None:
        # Adyen scopes keys to the account; the API key stands in for the account here.
        return self._idempotency.get((api_key, idempotency_key))

    def record(self, api_key: str, idempotency_key: str, recorded: Recorded) -> None:
        self._idempotency[(api_key, idempotency_key)] = recorded
        _bound(self._idempotency, self._config.idempotency_keys_max)

    def payment(self, psp_reference: str) -> Payment | None:
        return self._payments.get(psp_reference)

    def authorise(self, request: PaymentRequest) -> Payment:
        outcome = outcome_for(request.card_number, request.expired, self.behaviour)
        authorised = outcome.authorised
        payment = Payment(
            psp_reference=new_psp_reference(),
            merchant_account=request.merchant_account,
            merchant_reference=request.reference,
            currency=request.amount.currency,
            brand=card_brand(request.card_number),
            last4=request.card_number[-4:],  # the full number is never kept
            outcome=outcome,
            requested_minor=request.amount.value,
            authorised_minor=request.amount.value if authorised else 0,
            manual_capture=request.manual_capture,
            preauth=request.preauth,
            funding=card_funding(request.card_number),
        )
        if authorised and not request.manual_capture:
            payment.captured_minor = payment.authorised_minor
            self.ledger.append(sale_line(self._config.fees, payment, payment.captured_minor, payment.psp_reference,
                                         payment.merchant_reference, dt.datetime.now(dt.UTC)))
        payment.check()
        self._payments[payment.psp_reference] = payment
        self._by_reference[(payment.merchant_account, payment.merchant_reference)] = payment.psp_reference
        _bound(self._payments, self._config.payments_max)
        _bound(self._by_reference, self._config.payments_max)
        cancelled_before = self._technical_cancels.get((payment.merchant_account, payment.merchant_reference))
        if cancelled_before is not None:
            self._cancel_or_refund(payment, cancelled_before)  # the cancel outran the payment
        return payment

    def technical_cancel(self, request: TechnicalCancelRequest) -> tuple[str, Payment | None]:
        """Cancel the payment with this merchant reference, now if Adyen has it, else as soon as
        it arrives. Adyen answers `received` either way; a captured payment is refunded."""
        key = (request.merchant_account, request.payment_reference)
        self._technical_cancels[key] = request
        _bound(self._technical_cancels, self._config.payments_max)
        psp_reference = self._by_reference.get(key)
        payment = self._payments.get(psp_reference) if psp_reference is not None else None
        if payment is not None:
            self._cancel_or_refund(payment, request)
        return new_psp_reference(), payment

    def _cancel_or_refund(self, payment: Payment, request: TechnicalCancelRequest) -> None:
        if not payment.outcome.authorised or payment.cancelled:
            return
        modification_request = ModificationRequest(request.merchant_account, request.reference, None)
        if payment.captured_minor == 0:
            self.modify(payment, "cancels", modification_request)
            return
        left = payment.captured_minor - payment.refunded_minor
        if left > 0:
            amount = Amount(left, payment.currency)
            self.modify(payment, "refunds", ModificationRequest(request.merchant_account, request.reference, amount))

    def modify(self, payment: Payment, kind: ModificationKind, request: ModificationRequest) -> Modification:
        """Decide the outcome now; the caller reports it later, by webhook, as Adyen does."""
        amount_minor = request.amount.value if request.amount else None
        currency = request.amount.currency if request.amount else None
        reason = refusal(payment, kind, amount_minor, currency)
        if len(payment.modifications) >= self._config.modifications_per_payment_max:
            reason = f"More than {self._config.modifications_per_payment_max} modifications on one payment"
        if reason is None:
            apply(payment, kind, amount_minor)
        modification = Modification(
            psp_reference=new_psp_reference(), kind=kind, reference=request.reference,
            amount_minor=amount_minor, success=reason is None, reason=reason or "",
        )
        payment.modifications.append(modification)
        if modification.success:
            self.ledger.append(modification_line(self._config.fees, payment, modification, dt.datetime.now(dt.UTC)))
        return modification
