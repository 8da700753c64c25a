"""Reading Adyen's standard notifications: every NotificationRequestItem is verified by
its HMAC signature before anything in it is believed, and turned into the processor's
answer to one basketpay attempt. basketpay sends its processor-side idempotency key as
the `reference` of every payment and modification, so an item's merchantReference
names the attempt it answers, whatever the order items arrive in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from basketpay.connectors.adyen.hmac import verify_notification_hmac
from basketpay.connectors.adyen.transformers import decline_result
from basketpay.connectors.base import Outcome, ProcessorResult

ITEMS_PER_DELIVERY_MAX = 100
MODIFICATION_EVENTS = frozenset({"CAPTURE", "CANCELLATION", "REFUND", "AUTHORISATION_ADJUSTMENT"})


class NotificationRejected(ValueError):
    """The delivery is malformed or an item's signature does not verify."""


@dataclass(frozen=True, slots=True)
class AdyenNotification:
    event_id: str
    type: str
    object_id: str
    attempt_key: str  # the merchantReference: the attempt's processor idempotency key
    success: bool
    original_reference: str | None
    amount: int | None
    reason: str

    payment_intent_id = None  # resolved through the attempt, not the event

    def result(self) -> ProcessorResult | None:
        """The processor's definitive answer, or None for an event basketpay does not act on."""
        if self.type == "AUTHORISATION":
            if self.success:
                return ProcessorResult(Outcome.SUCCEEDED, self.object_id, self.amount or 0)
            return decline_result(self.reason, None, self.object_id, self.amount or 0)
        if self.type in MODIFICATION_EVENTS:
            if self.success:
                return ProcessorResult(Outcome.SUCCEEDED, self.original_reference, self.amount or 0)
            return ProcessorResult(Outcome.FAILED, self.original_reference, error_code="adyen_refused",
                                   message=self.reason or "Adyen refused the modification.")
        return None


def parse(body: Any, hmac_key_hex: str) -> list[AdyenNotification]:
    if not isinstance(body, Mapping) or not isinstance(body.get("notificationItems"), list):
        raise NotificationRejected("not an Adyen notification")
    wrappers = body["notificationItems"]
    if len(wrappers) > ITEMS_PER_DELIVERY_MAX:
        raise NotificationRejected("too many items in one delivery")
    return [_item(wrapper, hmac_key_hex) for wrapper in wrappers]


def _item(wrapper: Any, hmac_key_hex: str) -> AdyenNotification:
    item = wrapper.get("NotificationRequestItem") if isinstance(wrapper, Mapping) else None
    if not isinstance(item, dict) or not verify_notification_hmac(item, hmac_key_hex):
        raise NotificationRejected("an item's HMAC signature does not verify")
    try:
        amount = item.get("amount") or {}
        psp, event_code, success = str(item["pspReference"]), str(item["eventCode"]), str(item["success"])
        return AdyenNotification(
            event_id=f"{psp}:{event_code}:{success}", type=event_code, object_id=psp,
            attempt_key=str(item.get("merchantReference") or ""), success=success == "true",
            original_reference=item.get("originalReference") or None,
            amount=int(amount["value"]) if "value" in amount else None, reason=str(item.get("reason") or ""),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise NotificationRejected("an item has an unexpected shape") from error
