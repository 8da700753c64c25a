"""Adyen's notification signature: HMAC-SHA256 over eight colon-joined fields of a
NotificationRequestItem, with the key given in hex and the result in base64
(additionalData.hmacSignature). Checked against Adyen's published vectors in
tests/integration/sandboxes/test_adyen_sandbox.py."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

__all__ = ["sign_notification", "signing_string", "verify_notification_hmac"]


def signing_string(item: dict[str, Any]) -> str:
    amount = item.get("amount") or {}
    fields = (
        item.get("pspReference"), item.get("originalReference"), item.get("merchantAccountCode"),
        item.get("merchantReference"), amount.get("value"), amount.get("currency"),
        item.get("eventCode"), item.get("success"),
    )
    return ":".join("" if value is None else str(value) for value in fields)


def sign_notification(item: dict[str, Any], hmac_key_hex: str) -> str:
    """Raises ValueError when the key is not hex: a configuration bug, not a bad notification."""
    digest = hmac.new(bytes.fromhex(hmac_key_hex), signing_string(item).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_notification_hmac(item: dict[str, Any], hmac_key_hex: str) -> bool:
    """True when `item` (one NotificationRequestItem) carries a valid additionalData.hmacSignature."""
    additional = item.get("additionalData")
    received = additional.get("hmacSignature") if isinstance(additional, dict) else None
    if not isinstance(received, str):
        return False
    return hmac.compare_digest(sign_notification(item, hmac_key_hex).encode(), received.encode())
