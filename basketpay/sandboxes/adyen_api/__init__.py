"""An Adyen-compatible sandbox processor: a real HTTP server speaking the Checkout API
(v71) wire format, with Adyen's test-card refusals, asynchronous modifications reported
by HMAC-signed webhooks, and Idempotency-Key replay."""

from basketpay.sandboxes.adyen_api.app import create_app
from basketpay.sandboxes.adyen_api.config import AdyenSandboxConfig
from basketpay.sandboxes.adyen_api.notifications import verify_notification_hmac

__all__ = ["AdyenSandboxConfig", "create_app", "verify_notification_hmac"]
