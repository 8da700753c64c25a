"""The ledger's tables. The money rules live in the database as well as in the code:

- `ledger_postings` of one entry sum to zero per currency and phase: a statement-level
  trigger (migration 0005) refuses any INSERT that leaves an entry unbalanced;
- balances are maintained by that same trigger from the postings, never written by
  the application, so they always equal the sum of their postings; the trigger also
  refuses postings whose entry, account, merchant, currency or bucket do not match;
- a guarded account's balance row carries a CHECK that its available balance never
  goes below zero, evaluated in the transaction that would break it;
- a hold can never be posted or released beyond its amount (CHECK);
- entries and postings can be neither updated nor deleted (triggers).

Amounts are signed minor units: a debit is positive, a credit negative. A posting's
phase is 0 (posted), 1 (pending: a hold placed) or 2 (release: a hold's pending
amount taken back, when the hold is posted or voided).
"""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from basketpay.db.metadata import created_at_column, metadata, sequence_column

ACCOUNT_TYPES = ("asset", "liability", "equity", "revenue", "expense")
BUCKETS_MAX = 64
PHASE_POSTED, PHASE_PENDING, PHASE_RELEASE = 0, 1, 2

# How postings add up to a balance row (the trigger in migration 0005 applies the same
# rule): posted sums phase 0; a pending debit is a hold placed on the debit side or a
# hold's credit side released, and the other way round for pending credits. For SQL over
# `ledger_postings p`, grouped by account (and bucket).
POSTING_SUMS = """
    coalesce(sum(p.amount) FILTER (WHERE p.phase = 0), 0) AS posted,
    coalesce(sum(p.amount) FILTER (WHERE (p.phase = 1 AND p.amount > 0) OR (p.phase = 2 AND p.amount < 0)), 0)
        AS pending_debits,
    coalesce(-sum(p.amount) FILTER (WHERE (p.phase = 1 AND p.amount < 0) OR (p.phase = 2 AND p.amount > 0)), 0)
        AS pending_credits"""

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", Text, primary_key=True),
    sequence_column(),
    Column("merchant_id", Text, ForeignKey("merchants.id"), nullable=False),
    Column("code", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("normal_balance", Text, nullable=False),
    Column("guard", Text, nullable=False, server_default="none"),
    Column("buckets", SmallInteger, nullable=False, server_default="1"),
    Column("status", Text, nullable=False, server_default="open"),
    Column("owner", Text),
    Column("description", Text),
    created_at_column(),
    UniqueConstraint("merchant_id", "code", "currency"),
    UniqueConstraint("id", "merchant_id", "currency"),
    CheckConstraint("type IN ('asset', 'liability', 'equity', 'revenue', 'expense')", name="type"),
    CheckConstraint("normal_balance IN ('debit', 'credit')", name="normal_balance"),
    CheckConstraint("guard IN ('none', 'non_negative')", name="guard"),
    CheckConstraint("status IN ('open', 'closed')", name="status"),
    # A guard is checked on one balance row: a guarded account is never spread over buckets.
    CheckConstraint(f"buckets BETWEEN 1 AND {BUCKETS_MAX} AND (guard = 'none' OR buckets = 1)", name="buckets"),
)

ledger_balances = Table(
    "ledger_balances",
    metadata,
    Column("account_id", Text, primary_key=True),
    Column("bucket", SmallInteger, primary_key=True),
    Column("merchant_id", Text, nullable=False),  # the account's, so the trigger's match proves them
    Column("currency", Text, nullable=False),
    Column("posted", BigInteger, nullable=False, server_default="0"),
    Column("pending_debits", BigInteger, nullable=False, server_default="0"),
    Column("pending_credits", BigInteger, nullable=False, server_default="0"),
    Column("normal_balance", Text, nullable=False),  # the account's, here for the guard's CHECK
    Column("guard", Text, nullable=False),
    ForeignKeyConstraint(
        ["account_id", "merchant_id", "currency"],
        ["ledger_accounts.id", "ledger_accounts.merchant_id", "ledger_accounts.currency"],
        name="fk_ledger_balances_account",
    ),
    CheckConstraint("pending_debits >= 0 AND pending_credits >= 0", name="pending_not_negative"),
    CheckConstraint(
        "guard = 'none' OR (normal_balance = 'debit' AND posted - pending_credits >= 0)"
        " OR (normal_balance = 'credit' AND -posted - pending_debits >= 0)",
        name="available_not_negative",
    ),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Text, primary_key=True),
    sequence_column(),
    Column("merchant_id", Text, ForeignKey("merchants.id"), nullable=False),
    Column("client_entry_id", Text),
    Column("content_digest", LargeBinary),
    Column("kind", Text, nullable=False),
    Column("description", Text),
    Column("object_id", Text),  # what the entry records: a payment intent, an order, a settlement
    Column("hold_id", Text),
    Column("reverses_entry_id", Text, ForeignKey("ledger_entries.id")),
    created_at_column(),
    UniqueConstraint("merchant_id", "client_entry_id"),
    UniqueConstraint("reverses_entry_id"),  # an entry is reversed at most once
    Index("ix_ledger_entries_merchant_object", "merchant_id", "object_id"),
)

ledger_postings = Table(
    "ledger_postings",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # No foreign keys here: the insert trigger checks entries and accounts set-based, once
    # per statement (migration 0005), where a foreign key would check row by row.
    Column("entry_id", Text, nullable=False),
    Column("merchant_id", Text, nullable=False),
    Column("account_id", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("bucket", SmallInteger, nullable=False),
    Column("phase", SmallInteger, nullable=False),
    Column("amount", BigInteger, nullable=False),
    created_at_column(),
    CheckConstraint("amount <> 0", name="amount_not_zero"),
    CheckConstraint("phase IN (0, 1, 2)", name="phase"),
    Index("ix_ledger_postings_account_created_at", "account_id", "created_at"),
    Index("ix_ledger_postings_entry_id", "entry_id"),
)

ledger_holds = Table(
    "ledger_holds",
    metadata,
    Column("id", Text, primary_key=True),
    Column("merchant_id", Text, ForeignKey("merchants.id"), nullable=False),
    Column("currency", Text, nullable=False),
    Column("debit_account_id", Text, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("credit_account_id", Text, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("posted_amount", BigInteger, nullable=False, server_default="0"),
    Column("released_amount", BigInteger, nullable=False, server_default="0"),
    Column("status", Text, nullable=False, server_default="pending"),
    Column("object_id", Text),
    Column("expires_at", DateTime(timezone=True)),
    created_at_column(),
    Column("updated_at", DateTime(timezone=True)),
    CheckConstraint(
        "amount > 0 AND posted_amount >= 0 AND released_amount >= 0 AND posted_amount + released_amount <= amount",
        name="not_over_posted",
    ),
    CheckConstraint("status IN ('pending', 'posted', 'voided', 'expired')", name="status"),
    CheckConstraint("(status = 'pending') = (posted_amount + released_amount < amount)", name="status_matches"),
    Index("ix_ledger_holds_pending_expires_at", "expires_at", postgresql_where=text("status = 'pending'")),
)

ledger_balance_snapshots = Table(
    "ledger_balance_snapshots",
    metadata,
    Column("account_id", Text, ForeignKey("ledger_accounts.id"), primary_key=True),
    Column("as_of", DateTime(timezone=True), primary_key=True),
    Column("posted", BigInteger, nullable=False),
    Column("pending_debits", BigInteger, nullable=False),
    Column("pending_credits", BigInteger, nullable=False),
)

ledger_snapshot_runs = Table(
    "ledger_snapshot_runs",
    metadata,
    Column("as_of", DateTime(timezone=True), primary_key=True),  # the boundary snapshotted
    Column("accounts", BigInteger, nullable=False),
    created_at_column(),
)
