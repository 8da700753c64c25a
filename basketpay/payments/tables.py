"""Payment intents, attempts and refunds.

The amount columns carry the money invariants as CHECK constraints, so even a
buggy code path cannot capture more than was authorized or refund more than was
captured: the database refuses the row.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from basketpay.db.metadata import created_at_column, metadata, sequence_column

PAYMENT_STATUSES = (
    "requires_payment_method",
    "requires_confirmation",
    "requires_capture",
    "processing",
    "succeeded",
    "canceled",
)


def _status_check(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


payment_intents = Table(
    "payment_intents",
    metadata,
    Column("id", Text, primary_key=True),
    sequence_column(),
    Column("merchant_id", Text, ForeignKey("merchants.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("capture_method", Text, nullable=False),
    Column("payment_method_id", Text, ForeignKey("payment_methods.id")),
    Column("customer", Text),
    Column("description", Text),
    Column("metadata", JSONB, nullable=False),
    Column("off_session", Boolean, nullable=False),
    Column("amount_authorized", BigInteger, nullable=False),
    Column("amount_capturable", BigInteger, nullable=False),
    Column("amount_received", BigInteger, nullable=False),
    Column("amount_refunded", BigInteger, nullable=False),
    Column("connector", Text),
    Column("processor_reference", Text),
    Column("card_brand", Text),
    Column("authorization_expires_at", DateTime(timezone=True)),
    Column("last_payment_error", JSONB),
    Column("in_flight_attempt_id", Text),
    Column("cancellation_reason", Text),
    Column("canceled_at", DateTime(timezone=True)),
    created_at_column(),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    _status_check("status", PAYMENT_STATUSES, "status_known"),
    CheckConstraint("capture_method IN ('automatic', 'manual')", name="capture_method_known"),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint(
        "amount_capturable >= 0 AND amount_received >= 0 AND amount_refunded >= 0",
        name="amounts_not_negative",
    ),
    CheckConstraint(
        "amount_capturable + amount_received <= amount_authorized", name="captures_within_authorized"
    ),
    CheckConstraint("amount_refunded <= amount_received", name="refunds_within_received"),
    Index("ix_payment_intents_merchant_seq", "merchant_id", "seq"),
    # The sweeper's search for lapsed authorizations (payments/lapse.py).
    Index("ix_payment_intents_authorization_expires_at", "authorization_expires_at",
          postgresql_where=text("status = 'requires_capture'")),
)

ATTEMPT_OPERATIONS = ("authorize", "sale", "capture", "increment_authorization", "void", "refund")
ATTEMPT_STATUSES = ("pending", "succeeded", "declined", "failed")

payment_attempts = Table(
    "payment_attempts",
    metadata,
    Column("id", Text, primary_key=True),
    Column("merchant_id", Text, ForeignKey("merchants.id"), nullable=False),
    Column("payment_intent_id", Text, ForeignKey("payment_intents.id"), nullable=False, index=True),
    Column("refund_id", Text),
    Column("operation", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("status_before", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("final_capture", Boolean, nullable=False),
    Column("connector", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False),
    Column("processor_idempotency_key", Text, nullable=False, unique=True),
    Column("processor_reference", Text),
    Column("error_code", Text),
    Column("decline_code", Text),
    Column("error_message", Text),
    Column("latency_ms", Integer),
    # How often the sweeper asked the processor in vain, and when it may ask again.
    Column("inquiries", Integer, nullable=False, server_default=text("0")),
    Column("next_inquiry_at", DateTime(timezone=True)),
    created_at_column(),
    Column("completed_at", DateTime(timezone=True)),
    _status_check("operation", ATTEMPT_OPERATIONS, "operation_known"),
    _status_check("status", ATTEMPT_STATUSES, "status_known"),
    CheckConstraint("amount >= 0", name="amount_not_negative"),
    Index("ix_payment_attempts_pending", "created_at", postgresql_where=text("status = 'pending'")),
    Index("ix_payment_attempts_merchant_key", "merchant_id", "idempotency_key"),
    # Reconciliation's "what should the processor have settled since": money-moving attempts only.
    Index("ix_payment_attempts_settling", "merchant_id", "connector", "completed_at",
          postgresql_where=text("status = 'succeeded' AND operation IN ('capture', 'sale', 'refund')")),
)

REFUND_STATUSES = ("pending", "succeeded", "failed")

refunds = Table(
    "refunds",
    metadata,
    Column("id", Text, primary_key=True),
    sequence_column(),
    Column("merchant_id", Text, ForeignKey("merchants.id"), nullable=False),
    Column("payment_intent_id", Text, ForeignKey("payment_intents.id"), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("reason", Text),
    Column("metadata", JSONB, nullable=False),
    Column("failure_reason", Text),
    created_at_column(),
    _status_check("status", REFUND_STATUSES, "status_known"),
    CheckConstraint("amount > 0", name="amount_positive"),
    Index("ix_refunds_merchant_seq", "merchant_id", "seq"),
)
