"""ledger: accounts, bucketed balances, entries, postings, holds, snapshots, and the
database's own enforcement of the ledger's rules (see basketpay/ledger/tables.py)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 17:33:06.261470
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


# Every INSERT into ledger_postings, as one statement: refuse it if any entry in it does
# not sum to zero per currency and phase, or names an entry that does not exist; then add
# the postings to their balance rows, in (account, bucket) order so concurrent writers
# lock rows in one order. A balance row's CHECK constraints (pending never negative, a
# guarded account never below zero) fire on that UPDATE, inside the writer's transaction.
# These set-based checks stand in for foreign keys on ledger_postings: a foreign key
# checks (and share-locks) row by row, which cost more than all the rest of a batch.
RULES = """
CREATE FUNCTION ledger_postings_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    unbalanced record;
    delta record;
    owner text;
    orphan text;
    deltas_count bigint;
    updated_count bigint;
BEGIN
    SELECT entry_id, currency, phase INTO unbalanced FROM inserted
    GROUP BY entry_id, currency, phase HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger entry % does not balance in % (phase %)',
            unbalanced.entry_id, unbalanced.currency, unbalanced.phase
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_entry_balanced';
    END IF;
    IF (SELECT count(*) FROM inserted) <= 32 THEN
        -- A payment's few postings: row by row, with plans cached once (index lookups).
        -- By primary key, then the merchant compared: a plan that reached entries through the
        -- (merchant_id, object_id) index would read every entry of the merchant.
        FOR delta IN SELECT DISTINCT entry_id, merchant_id FROM inserted LOOP
            SELECT merchant_id INTO owner FROM ledger_entries WHERE id = delta.entry_id;
            IF owner IS DISTINCT FROM delta.merchant_id THEN
                orphan := delta.entry_id;
            END IF;
        END LOOP;
        IF orphan IS NOT NULL THEN
            RAISE EXCEPTION 'postings name entry % that does not exist (for their merchant)', orphan
                USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'ledger_posting_entry';
        END IF;
        FOR delta IN
            SELECT account_id, bucket, merchant_id, currency,
                coalesce(sum(amount) FILTER (WHERE phase = 0), 0) AS posted,
                coalesce(sum(amount) FILTER (WHERE (phase = 1 AND amount > 0) OR (phase = 2 AND amount < 0)), 0)
                    AS pending_debits,
                coalesce(-sum(amount) FILTER (WHERE (phase = 1 AND amount < 0) OR (phase = 2 AND amount > 0)), 0)
                    AS pending_credits
            FROM inserted GROUP BY account_id, bucket, merchant_id, currency ORDER BY account_id, bucket
        LOOP
            UPDATE ledger_balances SET posted = posted + delta.posted,
                pending_debits = pending_debits + delta.pending_debits,
                pending_credits = pending_credits + delta.pending_credits
            WHERE account_id = delta.account_id AND bucket = delta.bucket
                AND merchant_id = delta.merchant_id AND currency = delta.currency;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'a posting names an account, bucket, merchant or currency that does not match a balance row'
                    USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'ledger_posting_account';
            END IF;
        END LOOP;
        RETURN NULL;
    END IF;
    -- A batch: set-based, and dynamic (EXECUTE) so each is planned for its own size (a
    -- plan cached for one size would be wrong for the next).
    EXECUTE 'SELECT i.entry_id FROM (SELECT DISTINCT entry_id, merchant_id FROM inserted) i
             LEFT JOIN ledger_entries e ON e.id = i.entry_id
             WHERE e.merchant_id IS DISTINCT FROM i.merchant_id LIMIT 1' INTO orphan;
    IF orphan IS NOT NULL THEN
        RAISE EXCEPTION 'postings name entry % that does not exist (for their merchant)', orphan
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'ledger_posting_entry';
    END IF;
    -- Balances follow their postings, rows locked in (account, bucket) order. Matching the
    -- balance row's merchant and currency as well is what makes a posting to another
    -- merchant's account, in another currency, or to a missing bucket fail the count check.
    EXECUTE 'WITH deltas AS (
        SELECT account_id, bucket, merchant_id, currency,
            coalesce(sum(amount) FILTER (WHERE phase = 0), 0) AS posted,
            coalesce(sum(amount) FILTER (WHERE (phase = 1 AND amount > 0) OR (phase = 2 AND amount < 0)), 0)
                AS pending_debits,
            coalesce(-sum(amount) FILTER (WHERE (phase = 1 AND amount < 0) OR (phase = 2 AND amount > 0)), 0)
                AS pending_credits
        FROM inserted GROUP BY account_id, bucket, merchant_id, currency ORDER BY account_id, bucket
    ), updated AS (
        UPDATE ledger_balances b SET posted = b.posted + d.posted,
            pending_debits = b.pending_debits + d.pending_debits,
            pending_credits = b.pending_credits + d.pending_credits
        FROM deltas d WHERE b.account_id = d.account_id AND b.bucket = d.bucket
            AND b.merchant_id = d.merchant_id AND b.currency = d.currency
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM deltas), (SELECT count(*) FROM updated)' INTO deltas_count, updated_count;
    IF deltas_count <> updated_count THEN
        RAISE EXCEPTION 'a posting names an account, bucket, merchant or currency that does not match a balance row'
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'ledger_posting_account';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_postings_balanced AFTER INSERT ON ledger_postings
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ledger_postings_after_insert();

CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: correct it with a reversing entry', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_postings_no_truncate BEFORE TRUNCATE ON ledger_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
"""

DROP_RULES = """
DROP TRIGGER ledger_postings_no_truncate ON ledger_postings;
DROP TRIGGER ledger_postings_append_only ON ledger_postings;
DROP TRIGGER ledger_entries_no_truncate ON ledger_entries;
DROP TRIGGER ledger_entries_append_only ON ledger_entries;
DROP FUNCTION ledger_append_only();
DROP TRIGGER ledger_postings_balanced ON ledger_postings;
DROP FUNCTION ledger_postings_after_insert();
"""


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('ledger_accounts',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('merchant_id', sa.Text(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('currency', sa.Text(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('normal_balance', sa.Text(), nullable=False),
    sa.Column('guard', sa.Text(), server_default='none', nullable=False),
    sa.Column('buckets', sa.SmallInteger(), server_default='1', nullable=False),
    sa.Column('status', sa.Text(), server_default='open', nullable=False),
    sa.Column('owner', sa.Text(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("buckets BETWEEN 1 AND 64 AND (guard = 'none' OR buckets = 1)", name=op.f('ck_ledger_accounts_buckets')),
    sa.CheckConstraint("guard IN ('none', 'non_negative')", name=op.f('ck_ledger_accounts_guard')),
    sa.CheckConstraint("normal_balance IN ('debit', 'credit')", name=op.f('ck_ledger_accounts_normal_balance')),
    sa.CheckConstraint("status IN ('open', 'closed')", name=op.f('ck_ledger_accounts_status')),
    sa.CheckConstraint("type IN ('asset', 'liability', 'equity', 'revenue', 'expense')", name=op.f('ck_ledger_accounts_type')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_ledger_accounts_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('id', 'merchant_id', 'currency', name=op.f('uq_ledger_accounts_id_merchant_id_currency')),
    sa.UniqueConstraint('merchant_id', 'code', 'currency', name=op.f('uq_ledger_accounts_merchant_id_code_currency')),
    sa.UniqueConstraint('seq', name=op.f('uq_ledger_accounts_seq'))
    )
    op.create_table('ledger_entries',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('merchant_id', sa.Text(), nullable=False),
    sa.Column('client_entry_id', sa.Text(), nullable=True),
    sa.Column('content_digest', sa.LargeBinary(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('object_id', sa.Text(), nullable=True),
    sa.Column('hold_id', sa.Text(), nullable=True),
    sa.Column('reverses_entry_id', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_ledger_entries_merchant_id_merchants')),
    sa.ForeignKeyConstraint(['reverses_entry_id'], ['ledger_entries.id'], name=op.f('fk_ledger_entries_reverses_entry_id_ledger_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('merchant_id', 'client_entry_id', name=op.f('uq_ledger_entries_merchant_id_client_entry_id')),
    sa.UniqueConstraint('reverses_entry_id', name=op.f('uq_ledger_entries_reverses_entry_id')),
    sa.UniqueConstraint('seq', name=op.f('uq_ledger_entries_seq'))
    )
    op.create_index('ix_ledger_entries_merchant_object', 'ledger_entries', ['merchant_id', 'object_id'], unique=False)
    op.create_table('ledger_balance_snapshots',
    sa.Column('account_id', sa.Text(), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('posted', sa.BigInteger(), nullable=False),
    sa.Column('pending_debits', sa.BigInteger(), nullable=False),
    sa.Column('pending_credits', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_balance_snapshots_account_id_ledger_accounts')),
    sa.PrimaryKeyConstraint('account_id', 'as_of', name=op.f('pk_ledger_balance_snapshots'))
    )
    op.create_table('ledger_balances',
    sa.Column('account_id', sa.Text(), nullable=False),
    sa.Column('bucket', sa.SmallInteger(), nullable=False),
    sa.Column('posted', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('pending_debits', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('pending_credits', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('merchant_id', sa.Text(), nullable=False),
    sa.Column('currency', sa.Text(), nullable=False),
    sa.Column('normal_balance', sa.Text(), nullable=False),
    sa.Column('guard', sa.Text(), nullable=False),
    sa.CheckConstraint("guard = 'none' OR (normal_balance = 'debit' AND posted - pending_credits >= 0) OR (normal_balance = 'credit' AND -posted - pending_debits >= 0)", name=op.f('ck_ledger_balances_available_not_negative')),
    sa.CheckConstraint('pending_debits >= 0 AND pending_credits >= 0', name=op.f('ck_ledger_balances_pending_not_negative')),
    sa.ForeignKeyConstraint(['account_id', 'merchant_id', 'currency'], ['ledger_accounts.id', 'ledger_accounts.merchant_id', 'ledger_accounts.currency'], name='fk_ledger_balances_account'),
    sa.PrimaryKeyConstraint('account_id', 'bucket', name=op.f('pk_ledger_balances'))
    )
    op.create_table('ledger_holds',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('merchant_id', sa.Text(), nullable=False),
    sa.Column('currency', sa.Text(), nullable=False),
    sa.Column('debit_account_id', sa.Text(), nullable=False),
    sa.Column('credit_account_id', sa.Text(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('posted_amount', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('released_amount', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('object_id', sa.Text(), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(status = 'pending') = (posted_amount + released_amount < amount)", name=op.f('ck_ledger_holds_status_matches')),
    sa.CheckConstraint("status IN ('pending', 'posted', 'voided', 'expired')", name=op.f('ck_ledger_holds_status')),
    sa.CheckConstraint('amount > 0 AND posted_amount >= 0 AND released_amount >= 0 AND posted_amount + released_amount <= amount', name=op.f('ck_ledger_holds_not_over_posted')),
    sa.ForeignKeyConstraint(['credit_account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_holds_credit_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['debit_account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_holds_debit_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchants.id'], name=op.f('fk_ledger_holds_merchant_id_merchants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_holds'))
    )
    op.create_index('ix_ledger_holds_pending_expires_at', 'ledger_holds', ['expires_at'], unique=False, postgresql_where=sa.text("status = 'pending'"))
    op.create_table('ledger_postings',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('entry_id', sa.Text(), nullable=False),
    sa.Column('merchant_id', sa.Text(), nullable=False),
    sa.Column('account_id', sa.Text(), nullable=False),
    sa.Column('currency', sa.Text(), nullable=False),
    sa.Column('bucket', sa.SmallInteger(), nullable=False),
    sa.Column('phase', sa.SmallInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_ledger_postings_amount_not_zero')),
    sa.CheckConstraint('phase IN (0, 1, 2)', name=op.f('ck_ledger_postings_phase')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_postings'))
    )
    op.create_index('ix_ledger_postings_account_created_at', 'ledger_postings', ['account_id', 'created_at'], unique=False)
    op.create_index('ix_ledger_postings_entry_id', 'ledger_postings', ['entry_id'], unique=False)
    # ### end Alembic commands ###
    op.create_table('ledger_snapshot_runs',
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accounts', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('as_of', name=op.f('pk_ledger_snapshot_runs'))
    )
    op.execute(RULES)


def downgrade() -> None:
    op.execute(DROP_RULES)
    op.drop_table('ledger_snapshot_runs')
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_index('ix_ledger_postings_entry_id', table_name='ledger_postings')
    op.drop_index('ix_ledger_postings_account_created_at', table_name='ledger_postings')
    op.drop_table('ledger_postings')
    op.drop_index('ix_ledger_holds_pending_expires_at', table_name='ledger_holds', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('ledger_holds')
    op.drop_table('ledger_balances')
    op.drop_table('ledger_balance_snapshots')
    op.drop_index('ix_ledger_entries_merchant_object', table_name='ledger_entries')
    op.drop_table('ledger_entries')
    op.drop_table('ledger_accounts')
    # ### end Alembic commands ###
