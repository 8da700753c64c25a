"""What `basketpay simulate routing` measured for each strategy, and the table it prints: the
authorization rate (overall and during the outage), approved value and what routing recovered
of it against the single-processor baseline, and the fees paid for it."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from basketpay.invariant import invariant

__all__ = ["StrategyResult", "print_table", "summary"]

PERCENT_DIGITS = 1


@dataclass
class StrategyResult:
    """The answers one strategy's run got: every payment is exactly one of approved (200),
    declined (402), unknown (202, the sweeper resolves it later) or an error (anything else)."""

    name: str
    approved: int = 0
    declined: int = 0
    unknown: int = 0
    errors: int = 0
    approved_minor: int = 0
    fees_minor: int = 0
    approvals_by_processor: Counter[str] = field(default_factory=Counter)
    outage_payments: int = 0
    outage_approved: int = 0
    outage_unknown: int = 0
    elapsed_seconds: float = 0.0

    @property
    def payments(self) -> int:
        return self.approved + self.declined + self.unknown + self.errors

    def record(self, status: int, in_outage: bool, amount: int = 0, processor: str = "", fee: int = 0) -> None:
        """One payment's answer; amount, processor and fee only for an approval."""
        approved = status == 200
        if approved:
            self.approved += 1
            self.approved_minor += amount
            self.fees_minor += fee
            self.approvals_by_processor[processor] += 1
        elif status == 402:
            self.declined += 1
        elif status == 202:
            self.unknown += 1
        else:
            self.errors += 1
        if in_outage:
            self.outage_payments += 1
            self.outage_approved += approved
            self.outage_unknown += status == 202


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, PERCENT_DIGITS) if whole else 0.0


def _dollars(minor: int) -> str:
    """Whole dollars, rounded half up (cents are noise at these totals): -123450 -> "-$1,235"."""
    return ("-" if minor < 0 else "") + f"${(abs(minor) + 50) // 100:,}"


def summary(result: StrategyResult, baseline: StrategyResult) -> dict[str, Any]:
    """One strategy's figures, money in minor units (the JSON line) and shares in percent."""
    invariant(sum(result.approvals_by_processor.values()) == result.approved, "approvals add up by processor")
    return {
        "strategy": result.name, "payments": result.payments, "approved": result.approved,
        "declined": result.declined, "unknown": result.unknown, "errors": result.errors,
        "authorization_rate_percent": _percent(result.approved, result.payments),
        "outside_outage_authorization_rate_percent": _percent(result.approved - result.outage_approved,
                                                              result.payments - result.outage_payments),
        "outage_authorization_rate_percent": _percent(result.outage_approved, result.outage_payments),
        "outage_unknown": result.outage_unknown,
        "approved_minor": result.approved_minor, "fees_minor": result.fees_minor,
        "recovered_minor": result.approved_minor - baseline.approved_minor,
        "fees_per_approved_dollar_cents": round(100 * result.fees_minor / result.approved_minor, 2)
        if result.approved_minor else 0.0,
        "approvals_by_processor": dict(sorted(result.approvals_by_processor.items())),
        "elapsed_seconds": round(result.elapsed_seconds, 1),
    }


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Routing strategies on the same traffic", title_justify="left")
    for column in ("strategy", "auth rate", "outside outage", "in outage", "202s in outage", "approved",
                   "recovered", "fees", "fees per $", "stripe / adyen"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for row in rows:
        by_processor = row["approvals_by_processor"]
        table.add_row(
            row["strategy"], *(f"{row[name]:.1f}%" for name in (
                "authorization_rate_percent", "outside_outage_authorization_rate_percent",
                "outage_authorization_rate_percent")), str(row["outage_unknown"]),
            _dollars(row["approved_minor"]), _dollars(row["recovered_minor"]), _dollars(row["fees_minor"]),
            f"{row['fees_per_approved_dollar_cents']:.2f}¢",
            f"{by_processor.get('stripe', 0)} / {by_processor.get('adyen', 0)}",
        )
    return table


def print_table(console: Console, results: list[StrategyResult], header: dict[str, Any]) -> list[dict[str, Any]]:
    """The table, then (last) one JSON line with `header` and every row; returns the rows."""
    rows = [summary(result, results[0]) for result in results]
    console.print(_table(rows))
    console.print(json.dumps({**header, "strategies": rows}), soft_wrap=True, highlight=False, markup=False)
    return rows
