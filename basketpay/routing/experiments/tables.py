"""Routing experiments: which arms (each a routing configuration) split a merchant's traffic
and how; and per arm, exact counters of what its payments did, updated by each payment."""

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, Integer, Numeric, Table, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from basketpay.db.metadata import created_at_column, metadata, sequence_column

experiments = Table(
    "experiments",
    metadata,
    Column("id", Text, primary_key=True),
    sequence_column(),
    Column("merchant_id", Text, ForeignKey("merchants.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="running"),  # running | stopped
    Column("unit", Text, nullable=False),  # customer | payment: what assignment hashes
    Column("arms", JSONB, nullable=False),  # [{name, share (bps), config}], the control first
    Column("planned_sample_size", Integer, nullable=False),  # per arm, fixed before it starts
    Column("guardrail", JSONB, nullable=False),
    Column("stopped_arms", JSONB, nullable=False, server_default=text("'{}'::jsonb")),  # arm -> reason
    created_at_column(),
    Column("stopped_at", DateTime(timezone=True)),
    Index("ix_experiments_merchant_running", "merchant_id", postgresql_where=text("status = 'running'")),
)

LATENCY_BUCKETS = 24  # powers of two milliseconds: 1 ms … 8,000 s

experiment_outcomes = Table(
    "experiment_outcomes",
    metadata,
    Column("experiment_id", Text, ForeignKey("experiments.id"), primary_key=True),
    Column("arm", Text, primary_key=True),
    Column("payments", BigInteger, nullable=False, server_default="0"),
    Column("authorized", BigInteger, nullable=False, server_default="0"),
    Column("authorized_amount", Numeric, nullable=False, server_default="0"),
    Column("fees", Numeric, nullable=False, server_default="0"),
    Column("retries", BigInteger, nullable=False, server_default="0"),
    Column("fees_squared", Numeric, nullable=False, server_default="0"),  # for the cost interval
    Column("authorized_amount_squared", Numeric, nullable=False, server_default="0"),
    Column("fees_times_authorized_amount", Numeric, nullable=False, server_default="0"),
    Column("latency_ms_sum", Numeric, nullable=False, server_default="0"),
    Column("latency_buckets", ARRAY(BigInteger), nullable=False),
)
