"""Settings of one Adyen sandbox instance: where its webhooks go, how they are signed,
and the bounds on everything it keeps in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from basketpay.sandboxes.fees import AdyenFees

# Adyen's own sample HMAC key from its API libraries' tests; a sandbox needs *a* key, and
# using a public one makes it obvious that nothing signed with it is trustworthy.
SAMPLE_HMAC_KEY_HEX = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"


@dataclass(frozen=True, slots=True)
class AdyenSandboxConfig:
    webhook_url: str | None = None
    hmac_key_hex: str = SAMPLE_HMAC_KEY_HEX
    notification_delay_ms: int = 0
    notification_attempts_max: int = 4
    notification_backoff_ms: int = 100
    notification_timeout_ms: int = 2_000
    notification_queue_size_max: int = 50_000  # Adyen queues and retries; dropping is not its behaviour
    payments_max: int = 10_000
    idempotency_keys_max: int = 10_000
    modifications_per_payment_max: int = 100
    fees: AdyenFees = field(default_factory=AdyenFees)
    settlement_dir: str | None = None  # where POST /__sandbox/settlement writes the day's report
    faults: dict[str, Any] | None = None  # initial faults (sandboxes/faults.py); POST /__sandbox/faults changes them
    behaviour: dict[str, Any] | None = None  # approval and soft-decline rates (sandboxes/behaviour.py)
