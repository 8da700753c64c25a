from __future__ import annotations

import pytest

from basketpay.invariant import InvariantViolation
from basketpay.ledger import chart
from basketpay.ledger.posting import Entry, Posting, hold, hold_bucket, release, transfer
from basketpay.ledger.tables import PHASE_PENDING, PHASE_RELEASE


def test_a_transfer_balances_and_an_unbalanced_entry_is_refused() -> None:
    Entry("m", "manual", transfer("a", "b", "USD", 100)).check()
    with pytest.raises(InvariantViolation, match="does not balance"):
        Entry("m", "manual", [Posting("a", "USD", 100), Posting("b", "USD", -99)]).check()


def test_each_currency_and_phase_balances_on_its_own() -> None:
    crossed = [Posting("a", "USD", 100), Posting("b", "EUR", -100)]
    with pytest.raises(InvariantViolation):
        Entry("m", "fx", crossed).check()
    mixed_phases = [Posting("a", "USD", 100), Posting("b", "USD", -100, PHASE_PENDING)]
    with pytest.raises(InvariantViolation):
        Entry("m", "manual", mixed_phases).check()


def test_a_hold_and_its_release_cancel_out() -> None:
    placed, taken = hold("h", "r", "USD", 500, 3), release("h", "r", "USD", 500, 3)
    assert [p.phase for p in placed] == [PHASE_PENDING] * 2 and [p.phase for p in taken] == [PHASE_RELEASE] * 2
    assert sum(p.amount for p in placed + taken if p.account_id == "h") == 0


def test_zero_and_negative_transfers_are_bugs() -> None:
    for amount in (0, -5):
        with pytest.raises(InvariantViolation):
            transfer("a", "b", "USD", amount)


def test_the_digest_is_about_content_not_ids() -> None:
    one = Entry("m", "manual", transfer("a", "b", "USD", 100), client_entry_id="x")
    two = Entry("m", "manual", transfer("a", "b", "USD", 100), client_entry_id="x")
    assert one.id != two.id and one.digest() == two.digest()
    assert Entry("m", "manual", transfer("a", "b", "USD", 101)).digest() != one.digest()


def test_account_ids_and_hold_buckets_are_deterministic() -> None:
    assert chart.account_id("m", "bank_cash", "usd") == chart.account_id("m", "bank_cash", "USD")
    assert chart.account_id("m", "bank_cash", "USD") != chart.account_id("m2", "bank_cash", "USD")
    assert hold_bucket("lh_x", 16) == hold_bucket("lh_x", 16) < 16
    assert hold_bucket("lh_x", 1) == 0
