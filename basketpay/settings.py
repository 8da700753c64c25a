"""Typed settings, read from `BASKETPAY_*` environment variables.

Every limit carries its unit in its name (TIGER_STYLE): `..._ms`, `..._seconds`,
`..._max`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BASKETPAY_", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: an embedded PostgreSQL (pgserver) in `data_dir`.",
    )
    data_dir: Path = Field(
        default=Path(user_data_dir("basketpay")),
        description="Where the embedded PostgreSQL and other local state live.",
    )
    redis_url: str | None = Field(default=None, description="Redis URL for shared fast state.")
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_nested_connections: Literal["warn", "error"] = Field(
        default="warn", description="A task taking a second pool connection while it holds one (a deadlock when "
        "the pool is busy): logged, or refused with an error (the tests).")

    amount_minor_max: int = Field(
        default=99_999_999_99,
        ge=1,
        le=2**63 - 1,
        description="Largest amount accepted in one request, in minor units.",
    )
    metadata_keys_max: int = 50
    metadata_key_length_max: int = 40
    metadata_value_length_max: int = 500

    idempotency_key_ttl_hours: int = Field(default=24, ge=24)
    idempotency_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a request holds its idempotency key before the sweeper may take over.",
    )
    processor_timeout_ms: int = Field(default=10_000, ge=1)
    sweeper_interval_seconds: float = Field(default=5.0, gt=0)
    sweeper_batch_size_max: int = Field(default=100, ge=1)
    inquiry_backoff_base_seconds: float = Field(
        default=5.0, gt=0, description="Wait before asking the processor again about an unknown outcome; doubles each time."
    )
    inquiry_backoff_max_seconds: float = Field(default=3600.0, gt=0)
    unconfirmed_authorization_cancel_after_seconds: float = Field(
        default=3600.0, gt=0,
        description="An authorization whose outcome is still unknown this long after it was sent is cancelled at "
                    "the processor by its reference, and fails.",
    )

    ledger_hot_account_buckets: int = Field(
        default=16, ge=1, le=64,
        description="Balance rows a hot ledger account (processor clearing, revenue, ...) is spread over.",
    )
    ledger_snapshot_interval_seconds: float = Field(
        default=3600.0, gt=0, description="Balances are snapshotted at these boundaries, for cheap as-of reads.")
    ledger_snapshot_lag_seconds: float = Field(
        default=300.0, ge=0, description="A boundary is snapshotted once this old (longer than any transaction).")

    webhook_delivery_interval_seconds: float = Field(default=1.0, gt=0, description="How often due deliveries are sent.")
    webhook_timeout_ms: int = Field(default=5_000, ge=1, description="A receiver slower than this is a failed attempt.")
    webhook_batch_size_max: int = Field(default=100, ge=1)
    webhook_retry_schedule_scale: float = Field(
        default=1.0, gt=0, le=1, description="Test seam: shrinks the retry schedule (5 s … 10 h, ~37 h in all).")

    rate_limit_requests_per_second: float = Field(default=2000.0, gt=0)
    rate_limit_burst_max: int = Field(default=4000, ge=1)
    auth_cache_seconds: float = Field(default=30.0, ge=0)

    vault_key_encryption_key: str | None = Field(
        default=None,
        description="Base64 256-bit key-encryption key. Unset: one is generated in `data_dir`.",
    )
    default_connector: Literal["sandbox", "stripe", "adyen"] = Field(
        default="sandbox", description="The processor new payment intents go to."
    )
    stripe_api_base: str = Field(default="https://api.stripe.com", description="Stripe, or a Stripe-compatible sandbox.")
    stripe_secret_key: SecretStr | None = Field(default=None, description="sk_test_… or sk_live_…; enables the Stripe connector.")
    stripe_search_grace_seconds: float = Field(
        default=60.0, ge=0,
        description="Stripe's search lags behind writes: an attempt younger than this is not trusted as absent.",
    )
    stripe_webhook_secret: SecretStr | None = Field(default=None, description="whsec_…; enables /v1/processor_webhooks/stripe.")
    adyen_api_base: str = Field(default="https://checkout-test.adyen.com", description="Adyen Checkout, or the sandbox.")
    adyen_api_key: SecretStr | None = Field(default=None, description="X-API-Key; enables the Adyen connector.")
    adyen_merchant_account: str = Field(default="BasketpayTest", description="The Adyen merchant account.")
    adyen_hmac_key_hex: SecretStr | None = Field(default=None, description="Notification HMAC key (hex).")

    ebt_api_base: str | None = Field(default=None, description="The SNAP EBT processor; unset: EBT tenders are refused.")
    ebt_api_key: SecretStr = Field(default=SecretStr("sk_ebt_test"), description="The EBT processor's API key.")
    ebt_timeout_ms: int = Field(default=5_000, ge=1)

    order_hold_buffer_percent: int = Field(default=115, ge=100, le=200,
                                           description="The card hold: the card's share of the estimate times this.")
    order_hold_round_up_major: int = Field(default=5, ge=1, description="…rounded up to a multiple of this many dollars.")
    order_increment_threshold_minor: int = Field(
        default=0, ge=0, description="Grow the hold only when the card's share exceeds it by more than this.")
    order_tip_change_window_seconds: float = Field(
        default=7200.0, ge=0, description="After delivery the customer may change the tip this long; then it is charged.")
    order_tip_increase_window_seconds: float = Field(
        default=86400.0, ge=0, description="…and may only raise it until this long after delivery.")
    order_customer_action_timeout_seconds: float = Field(
        default=3600.0, ge=0, description="How long an order waits for the customer when its hold cannot grow.")
    order_customer_action_timeout_outcome: Literal["revert", "cancel"] = Field(
        default="revert", description="Then: revert the basket to what the hold covers, or cancel the order.")
    order_checkout_abandon_after_seconds: float = Field(
        default=300.0, gt=0, description="A checkout interrupted this long ago is abandoned: its holds are released.")
    order_reauthorize_before_expiry_seconds: float = Field(
        default=86400.0, ge=0, description="A scheduled order's card is re-authorized this long before its hold expires.")

    workflow_executor_id: str | None = Field(
        default=None, description="This worker's DBOS executor id: unique per process and stable across its restarts.")
    workflow_concurrency: int = Field(default=8, ge=1, description="Order workflows one worker runs at once.")
    workflow_poll_interval_seconds: float = Field(default=0.1, gt=0, description="How often a worker polls the queue.")
    workflow_relay_interval_seconds: float = Field(default=5.0, gt=0,
                                                   description="How often a worker re-enqueues stale order workflows.")
    workflow_stale_after_seconds: float = Field(default=30.0, gt=0,
                                                description="An order workflow not started after this is enqueued again.")

    routing_enabled: bool = Field(default=True, description="Route each authorization and track processor health; "
                                                             "off: the default processor, nothing tracked.")
    routing_breaker_calls_min: int = Field(default=20, ge=1, description="Calls in the window before a breaker may open.")
    routing_breaker_failure_rate_max: float = Field(default=0.5, gt=0, le=1,
                                                    description="Errors and timeouts above this share open it.")
    routing_breaker_window_seconds: float = Field(default=30.0, gt=0, description="The window the breaker looks at.")
    routing_breaker_cooldown_seconds: float = Field(default=30.0, gt=0, description="Open this long, then probes.")
    routing_health_refresh_seconds: float = Field(default=0.5, gt=0,
                                                  description="How often a process reads the shared health (Redis).")

    reconciliation_lookback_days: float = Field(
        default=3.0, gt=0,
        description="Captures and refunds completed up to this long before a file's first line are looked for in it; "
                    "older ones only while a run awaits them (missing at the processor).")
    reconciliation_settlement_days: float = Field(
        default=2.0, ge=0,
        description="A line settled (Stripe available_on, Adyen booking date) later than this after basketpay's "
                    "capture or refund is a timing break; processors settle cards in one to two days.")
    reconciliation_overdue_days: float = Field(
        default=5.0, gt=0,
        description="A capture or refund the processor has not settled is expected until this old, then overdue.")
    reconciliation_pull_merchant: str | None = Field(
        default=None, description="The merchant whose processor accounts the daily settlement pull reconciles "
                                  "(a worker pulls at 06:00 UTC); unset: no daily pull.")

    log_level: str = "INFO"
    fault_crash_after_processor_call: bool = Field(
        default=False,
        description="Test seam: exit the process right after a processor call, before the commit.",
    )


    @field_validator("redis_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # BASKETPAY_REDIS_URL= switches Redis off for one process

    @model_validator(mode="after")
    def _default_connector_is_configured(self) -> Settings:
        if self.default_connector == "stripe" and self.stripe_secret_key is None:
            raise ValueError("BASKETPAY_DEFAULT_CONNECTOR=stripe needs BASKETPAY_STRIPE_SECRET_KEY")
        if self.default_connector == "adyen" and (self.adyen_api_key is None or self.adyen_hmac_key_hex is None):
            # Adyen confirms captures, refunds and voids only by notification.
            raise ValueError("BASKETPAY_DEFAULT_CONNECTOR=adyen needs BASKETPAY_ADYEN_API_KEY and BASKETPAY_ADYEN_HMAC_KEY_HEX")
        return self

    @model_validator(mode="after")
    def _lease_outlasts_a_processor_call(self) -> Settings:
        # The sweeper takes over an attempt once its lease has run out; if a processor
        # call could outlive the lease, the sweeper could ask about a call still in flight.
        if self.processor_timeout_ms >= self.idempotency_lease_seconds * 1000:
            raise ValueError("BASKETPAY_PROCESSOR_TIMEOUT_MS must be shorter than BASKETPAY_IDEMPOTENCY_LEASE_SECONDS")
        if self.unconfirmed_authorization_cancel_after_seconds <= self.idempotency_lease_seconds:
            # Giving up while the request may still be waiting for its answer would race it.
            raise ValueError("BASKETPAY_UNCONFIRMED_AUTHORIZATION_CANCEL_AFTER_SECONDS must exceed "
                             "BASKETPAY_IDEMPOTENCY_LEASE_SECONDS")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
