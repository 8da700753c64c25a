"""Reconciliation: imported settlement files and their rows (as the processor reports
them, normalised to signed minor units), the runs that match them against the payments'
attempts, the matches, the breaks and how each was resolved; and the retailers'
point-of-sale feeds with the mismatches found in them.

`settlement_rows` is written by COPY and read by set-based matching, so it carries no
foreign keys, one block-range index and nothing its file already says (its id, merchant,
processor): a million-row file imports in seconds.
"""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from basketpay.db.metadata import created_at_column, metadata, sequence_column

ROW_KINDS = ("charge", "refund", "fee", "payout", "adjustment")
BREAK_CATEGORIES = ("missing_in_books", "missing_at_processor", "amount_mismatch", "currency_mismatch", "duplicate",
                    "fee_discrepancy", "payout_total_mismatch", "timing")
BREAK_STATUSES = ("open", "expected", "overdue", "resolved")
RESOLUTIONS = ("accept", "write_off", "ignore", "settled")


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    return CheckConstraint(f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")", name=column)


settlement_files = Table(
    "settlement_files",
    metadata,
    Column("id", Text, primary_key=True),
    sequence_column(),
    Column("merchant_id", Text, nullable=False),
    Column("processor", Text, nullable=False),
    Column("format", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("first_booked_at", DateTime(timezone=True)),
    Column("last_booked_at", DateTime(timezone=True)),
    Column("batches", JSONB, nullable=False, server_default=text("'[]'::jsonb")),  # per batch totals (tally.py)
    Column("source", Text, nullable=False),  # cli, api, scheduled
    Column("run_id", Text),  # the run that reconciled the file's rows
    created_at_column(),
    UniqueConstraint("merchant_id", "sha256"),  # a file imported twice changes nothing
    Index("ix_settlement_files_unreconciled", "merchant_id", "processor", postgresql_where=text("run_id IS NULL")),
)

settlement_rows = Table(
    "settlement_rows",
    metadata,
    Column("file_seq", BigInteger, nullable=False),  # its file's `seq`: files are appended whole, one after another
    Column("line", Integer, nullable=False),  # the file's line number (its header is line 1)
    Column("kind", Text, nullable=False),
    Column("row_reference", Text),  # the processor's id of this line (balance transaction, modification)
    Column("payment_reference", Text),  # the processor's id of the payment (PaymentIntent, PSP reference)
    Column("attempt_reference", Text),  # the reference basketpay sent with the operation, when the file has it
    Column("currency", Text, nullable=False),
    Column("gross", BigInteger, nullable=False),  # signed: a credit to the merchant is positive
    Column("fee", BigInteger, nullable=False),  # positive: charged to the merchant
    Column("net", BigInteger, nullable=False),
    Column("expected_fee", BigInteger),  # the fee model's figure (reconciliation/fee_models.py)
    Column("first_charge_fee", BigInteger, nullable=False, server_default="0"),  # due on a payment's first charge only
    Column("batch", Text, nullable=False),  # the payout (Stripe) or batch number (Adyen) the row is paid in
    Column("booked_at", DateTime(timezone=True), nullable=False),
    _one_of("kind", ROW_KINDS),
    # A file's lines lie together and files follow each other, so a block-range index finds a
    # file's lines at almost no cost to the COPY (a B-tree on every line cost more than a tenth
    # of a million-line import). A line is unique by (file_seq, line) by construction.
    Index("ix_settlement_rows_file_seq", "file_seq", postgresql_using="brin"),
)

reconciliation_runs = Table(
    "reconciliation_runs",
    metadata,
    Column("id", Text, primary_key=True),
    sequence_column(),
    Column("merchant_id", Text, nullable=False),
    Column("processor", Text, nullable=False),
    Column("file_ids", JSONB, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),  # the latest booking the run saw
    Column("summary", JSONB, nullable=False),  # counts, match rate, breaks by category, batches (report.py)
    created_at_column(),
)

# Which attempt each line settled, a thousand pairs to a row (parallel arrays in settlement
# order): one row per pair made a million-line run write 2 million WAL records (230 MB) for
# this table alone. A run finds what earlier runs settled by unnesting the chunks whose time
# range reaches into its look-back window (`settled_attempts`).
reconciliation_matches = Table(
    "reconciliation_matches",
    metadata,
    Column("run_id", Text, nullable=False),
    Column("chunk", Integer, nullable=False),
    Column("merchant_id", Text, nullable=False),
    Column("first_at", DateTime(timezone=True), nullable=False),  # the attempts' completion (a Fee line's booking)
    Column("last_at", DateTime(timezone=True), nullable=False),
    Column("attempt_ids", ARRAY(Text), nullable=False),
    Column("file_ids", ARRAY(Text), nullable=False),
    Column("lines", ARRAY(Integer), nullable=False),
    Column("fees", ARRAY(BigInteger), nullable=False),  # the fee posted for each
    Column("rules", ARRAY(Text), nullable=False),  # how each matched (matching.py)
    PrimaryKeyConstraint("run_id", "chunk"),
    Index("ix_reconciliation_matches_merchant_last_at", "merchant_id", "last_at"),
)

reconciliation_breaks = Table(
    "reconciliation_breaks",
    metadata,
    Column("id", Text, primary_key=True),
    sequence_column(),
    Column("merchant_id", Text, nullable=False),
    Column("run_id", Text, nullable=False, index=True),
    Column("processor", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount", BigInteger, nullable=False),  # the amount at stake (the row's or the attempt's)
    Column("difference", BigInteger, nullable=False),  # what resolving it moves into clearing: theirs - ours
    Column("batch", Text),
    Column("file_id", Text),
    Column("line", Integer),
    Column("attempt_id", Text),
    Column("payment_intent_id", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False),  # for ageing
    Column("detail", JSONB, nullable=False),
    Column("resolution", Text),
    Column("reason", Text),
    Column("ledger_entry_id", Text),
    Column("resolved_at", DateTime(timezone=True)),
    created_at_column(),
    _one_of("category", BREAK_CATEGORIES),
    _one_of("status", BREAK_STATUSES),
    _one_of("resolution", RESOLUTIONS),
    Index("ix_reconciliation_breaks_open", "merchant_id", "category",
          postgresql_where=text("status <> 'resolved'")),
    Index("ix_reconciliation_breaks_attempt", "attempt_id", postgresql_where=text("attempt_id IS NOT NULL")),
    # One open "missing at the processor" per attempt: each run refreshes it (expected, then overdue).
    Index("uq_reconciliation_breaks_awaited", "attempt_id", unique=True,
          postgresql_where=text("category = 'missing_at_processor' AND status <> 'resolved'")),
)

pos_feeds = Table(
    "pos_feeds",
    metadata,
    Column("id", Text, primary_key=True),
    sequence_column(),
    Column("merchant_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("summary", JSONB, nullable=False),
    created_at_column(),
    UniqueConstraint("merchant_id", "sha256"),
)

pos_transactions = Table(
    "pos_transactions",
    metadata,
    Column("feed_id", Text, nullable=False),
    Column("line", Integer, nullable=False),
    Column("merchant_id", Text, nullable=False),
    Column("store", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("card_last4", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("tax", BigInteger, nullable=False),
    Column("order_id", Text),  # the order whose card authorization it matched
    Column("status", Text, nullable=False),  # matched, total_mismatch, tax_mismatch, unmatched
    Column("detail", JSONB, nullable=False),
    PrimaryKeyConstraint("feed_id", "line"),
    _one_of("status", ("matched", "total_mismatch", "tax_mismatch", "unmatched")),
    Index("ix_pos_transactions_order", "order_id", postgresql_where=text("order_id IS NOT NULL")),  # matched before?
)
