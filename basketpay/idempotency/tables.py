"""One row per (merchant, Idempotency-Key): the request's fingerprint, its lease, where it got to
(the recovery point) and, once finished, the response to replay. The attempt a request
started names its key (payment_attempts.idempotency_key)."""

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    Table,
    Text,
    UniqueConstraint,
)

from basketpay.db.metadata import created_at_column, metadata

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("merchant_id", Text, ForeignKey("merchants.id"), nullable=False),
    Column("key", Text, nullable=False),
    Column("request_method", Text, nullable=False),
    Column("request_path", Text, nullable=False),
    Column("request_digest", LargeBinary, nullable=False),
    Column("recovery_point", Text, nullable=False),
    Column("locked_until", DateTime(timezone=True)),
    Column("response_status", Integer),
    Column("response_body", LargeBinary),
    created_at_column(),
    Column("finished_at", DateTime(timezone=True)),
    UniqueConstraint("merchant_id", "key"),
    Index("ix_idempotency_keys_created_at", "created_at"),
)
