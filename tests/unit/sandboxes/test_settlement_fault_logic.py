"""The shared settlement-fault logic (basketpay/sandboxes/settlement_faults): parsing the
list, which line a fault picks, how faults on one line combine, and applying them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from basketpay.sandboxes.settlement_faults import (
    Alteration,
    InvalidSettlementFaults,
    LineKey,
    SettlementFault,
    alterations,
    apply_faults,
    derived_id,
    parse_faults,
)


def faults(*raw: dict[str, Any]) -> tuple[SettlementFault, ...]:
    return parse_faults({"faults": list(raw)})


# --- Parsing --------------------------------------------------------------------------------------------

def test_parsing_fills_defaults_and_echoes_only_a_kinds_parameters() -> None:
    parsed = faults({"kind": "late", "reference": "pi_1"}, {"kind": "amount", "reference": "pi_1",
                                                            "operation": "refund", "delta_minor": -5})
    assert parsed == (SettlementFault("late", "pi_1", "charge", days=1),
                      SettlementFault("amount", "pi_1", "refund", delta_minor=-5))
    assert [fault.to_json() for fault in parsed] == [
        {"kind": "late", "reference": "pi_1", "operation": "charge", "days": 1},
        {"kind": "amount", "reference": "pi_1", "operation": "refund", "delta_minor": -5},
    ]
    assert faults() == ()


@pytest.mark.parametrize("body", [
    None, [], {"faults": None}, {"faults": [], "other": 1}, {"faults": ["drop"]},
    {"faults": [{"kind": "Drop", "reference": "x"}]},
    {"faults": [{"kind": "drop", "reference": ""}]},
    {"faults": [{"kind": "drop", "reference": "x" * 65}]},
    {"faults": [{"kind": "drop", "reference": 7}]},
    {"faults": [{"kind": "drop", "reference": "x", "operation": "fee"}]},
    {"faults": [{"kind": "duplicate", "reference": "x", "delta_minor": 1}]},
    {"faults": [{"kind": "amount", "reference": "x", "delta_minor": 0}]},
    {"faults": [{"kind": "amount", "reference": "x", "delta_minor": True}]},
    {"faults": [{"kind": "amount", "reference": "x", "delta_minor": 10**13}]},
    {"faults": [{"kind": "fee", "reference": "x", "extra_fee_minor": 0}]},
    {"faults": [{"kind": "late", "reference": "x", "days": 32}]},
    {"faults": [{"kind": "late", "reference": "x", "days": "1"}]},
    {"faults": [{"kind": "drop", "reference": "x"}] * 1001},
])
def test_a_bad_list_is_refused(body: Any) -> None:
    with pytest.raises(InvalidSettlementFaults):
        parse_faults(body)


def test_an_error_names_the_fault() -> None:
    with pytest.raises(InvalidSettlementFaults, match=r"faults\[1\]: kind 'fee' needs extra_fee_minor"):
        faults({"kind": "drop", "reference": "x"}, {"kind": "fee", "reference": "x"})


# --- Picking --------------------------------------------------------------------------------------------

KEYS: list[LineKey | None] = [("A", "charge"), None, ("B", "charge"), ("A", "charge"), ("A", "refund"),
                              ("A", "refund")]


def test_a_fault_picks_the_first_line_of_its_payment_and_operation() -> None:
    assert alterations(KEYS, faults({"kind": "drop", "reference": "A"})) == {0: Alteration(dropped=True)}
    refund = faults({"kind": "fee", "reference": "A", "operation": "refund", "extra_fee_minor": 4})
    assert alterations(KEYS, refund) == {4: Alteration(extra_fee_minor=4)}
    assert alterations(KEYS, faults({"kind": "duplicate", "reference": "B"})) == {2: Alteration(duplicates=1)}


def test_a_fault_without_its_line_picks_nothing() -> None:
    missing = faults({"kind": "drop", "reference": "C"}, {"kind": "drop", "reference": "B", "operation": "refund"})
    assert alterations(KEYS, missing) == {}
    assert alterations([None, None], faults({"kind": "drop", "reference": "A"})) == {}  # unpickable lines


def test_faults_on_one_line_combine() -> None:
    combined = faults(
        {"kind": "amount", "reference": "A", "delta_minor": 10}, {"kind": "amount", "reference": "A", "delta_minor": -3},
        {"kind": "fee", "reference": "A", "extra_fee_minor": 2}, {"kind": "duplicate", "reference": "A"},
        {"kind": "duplicate", "reference": "A"}, {"kind": "late", "reference": "A"},
        {"kind": "late", "reference": "A", "days": 2},
    )
    assert alterations(KEYS, combined) == {
        0: Alteration(gross_delta_minor=7, extra_fee_minor=2, duplicates=2, days_late=3),
    }
    dropped = faults({"kind": "drop", "reference": "A"}, {"kind": "duplicate", "reference": "A"})
    assert alterations(KEYS, dropped) == {0: Alteration(dropped=True, duplicates=1)}


# --- Applying -------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Line:
    id: str
    key: LineKey | None
    gross: int
    fee: int = 0
    day: int = 0


def alter(line: Line, change: Alteration) -> Line:
    return replace(line, gross=line.gross + change.gross_delta_minor, fee=line.fee + change.extra_fee_minor,
                   day=line.day + change.days_late)


def duplicate(line: Line, copy_number: int) -> Line:
    return replace(line, id=derived_id(line.id, copy_number)[:8])


JOURNAL = [Line("1", ("A", "charge"), 100), Line("2", None, 0), Line("3", ("A", "refund"), -40),
           Line("4", ("B", "charge"), 50)]


def test_applying_alters_drops_and_copies_lines_in_journal_order() -> None:
    settled = apply_faults(JOURNAL, faults(
        {"kind": "fee", "reference": "A", "extra_fee_minor": 3}, {"kind": "duplicate", "reference": "A"},
        {"kind": "drop", "reference": "A", "operation": "refund"}, {"kind": "late", "reference": "B", "days": 2},
    ), lambda line: line.key, alter, duplicate)
    altered = Line("1", ("A", "charge"), 100, fee=3)
    assert settled == [altered, replace(altered, id=derived_id("1", 1)[:8]), JOURNAL[1],
                       Line("4", ("B", "charge"), 50, day=2)]


def test_no_fault_leaves_the_journal_as_it_is() -> None:
    assert apply_faults(JOURNAL, (), lambda line: line.key, alter, duplicate) == JOURNAL


def test_a_copys_id_is_stable_and_distinct() -> None:
    assert derived_id("txn_1", 1) == derived_id("txn_1", 1)
    assert len({derived_id("txn_1", 1), derived_id("txn_1", 2), derived_id("txn_2", 1), "txn_1"}) == 4
