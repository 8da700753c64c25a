"""A pair, as matching writes it and breaks, postings and the summary read it: a settlement
row and the attempt it settles, with what the later steps need of both."""

from __future__ import annotations

__all__ = ["DDL", "PAIR_COLUMNS", "SETTLED_ATTEMPTS", "pair_values"]

# The attempts earlier runs settled, as far back as the look-back window reaches.
SETTLED_ATTEMPTS = """SELECT unnest(m.attempt_ids) AS attempt_id FROM reconciliation_matches m
WHERE m.merchant_id = %(merchant_id)s AND m.last_at >= %(since)s"""

PAIR_COLUMNS = ("file_id, line, attempt_id, rule, batch, currency, gross, fee, net, booked_at, expected_fee, "
                "our_amount, our_currency, completed_at")
# Narrow on purpose: a million pairs are written per million lines. What only a break needs (the
# line's references, the payment intent) is looked up for the break's few rows.
DDL = """
CREATE TEMP TABLE pairs (
    file_id text, line int, attempt_id text, rule text, batch text, currency text, gross bigint, fee bigint,
    net bigint, booked_at timestamptz, expected_fee bigint, our_amount bigint, our_currency text,
    completed_at timestamptz) ON COMMIT DROP;
CREATE TEMP TABLE leftover (LIKE run_rows) ON COMMIT DROP;
CREATE TEMP TABLE ours_left (LIKE ours) ON COMMIT DROP"""


def pair_values(rule: str, row: str = "r", ours: str = "o") -> str:
    """The SELECT list of a pair from a row alias and an attempt alias."""
    r, o = row, ours
    return (f"{r}.file_id, {r}.line, {o}.attempt_id, {rule}, {r}.batch, {r}.currency, {r}.gross, {r}.fee, {r}.net, "
            f"{r}.booked_at, {r}.expected_fee + CASE WHEN {o}.first_charge THEN {r}.first_charge_fee ELSE 0 END, "
            f"{o}.amount, {o}.currency, {o}.completed_at")
