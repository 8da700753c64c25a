"""What the batch did: outcomes, money moved per currency (exact, from the final intents),
and request latency; rendered as rich tables."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from basketpay.demo.scenarios import ScenarioResult
from basketpay.money import format_major

MONEY_COLUMNS = ("authorized", "captured", "refunded", "released")
FAILURES_SHOWN_MAX = 20
# Scenario outcomes in the order of a payment's life; decline codes follow, sorted.
OUTCOME_ORDER = (
    "succeeded", "captured in parts", "incremented then captured", "canceled (voided)",
    "partially refunded", "idempotent replay verified", "key reuse rejected",
)


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    recorded: int = 0
    # currency -> column -> minor units
    money: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def payments(self) -> int:
        return self.recorded + len(self.failures)

    def record(self, result: ScenarioResult) -> None:
        self.recorded += 1
        self.outcomes.update(result.outcomes)
        intent = result.intent
        sums = self.money.setdefault(intent["currency"], Counter())
        sums["authorized"] += intent["amount_authorized"]
        sums["captured"] += intent["amount_received"]
        sums["refunded"] += intent["amount_refunded"]
        # Only a finished intent has released its hold; one still capturable has released nothing.
        if intent["status"] in ("succeeded", "canceled"):
            sums["released"] += intent["amount_authorized"] - intent["amount_received"]

    def fail(self, scenario: str, index: int, reason: str) -> None:
        self.failures.append(f"payment {index} ({scenario}): {reason}")


def major_units(amount_minor: int, currency: str) -> str:
    """1234567 usd -> "USD 12,345.67", exactly (string arithmetic on format_major, no floats)."""
    whole, dot, fraction = format_major(amount_minor, currency).partition(".")
    return f"{currency.upper()} {int(whole):,}{dot}{fraction}"


def percentile_ms(latencies_ms: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest latency at or above `fraction` of the calls."""
    if not latencies_ms:
        return 0.0
    ordered = sorted(latencies_ms)
    return ordered[max(1, math.ceil(len(ordered) * fraction)) - 1]


def outcomes_table(tally: Tally) -> Table:
    table = Table(title="Outcomes", title_justify="left")
    table.add_column("outcome")
    table.add_column("count", justify="right")
    known = [outcome for outcome in OUTCOME_ORDER if outcome in tally.outcomes]
    declines = sorted(outcome for outcome in tally.outcomes if outcome not in OUTCOME_ORDER)
    for outcome in [*known, *declines]:
        table.add_row(outcome, str(tally.outcomes[outcome]))
    table.add_row("failed", str(len(tally.failures)), style="red" if tally.failures else "green", end_section=True)
    table.add_row("payments", str(tally.payments))
    return table


def money_table(tally: Tally) -> Table:
    table = Table(
        title="Money", title_justify="left",
        caption="released = authorized − captured, for payments that ended succeeded or canceled",
        caption_justify="left",
    )
    for column in MONEY_COLUMNS:
        table.add_column(column, justify="right")
    for currency in sorted(tally.money):
        sums = tally.money[currency]
        table.add_row(*(major_units(sums[column], currency) for column in MONEY_COLUMNS))
    return table


def traffic_table(latencies_ms: list[float], elapsed_seconds: float) -> Table:
    table = Table(title="Traffic", title_justify="left")
    for column in ("requests", "p50 latency", "p99 latency", "requests/s", "elapsed"):
        table.add_column(column, justify="right")
    rate = len(latencies_ms) / elapsed_seconds if elapsed_seconds > 0 else 0.0
    table.add_row(
        str(len(latencies_ms)), f"{percentile_ms(latencies_ms, 0.50):.1f} ms",
        f"{percentile_ms(latencies_ms, 0.99):.1f} ms", f"{rate:.0f}", f"{elapsed_seconds:.1f} s",
    )
    return table


def print_report(console: Console, tally: Tally, latencies_ms: list[float], elapsed_seconds: float) -> None:
    console.print(outcomes_table(tally))
    console.print(money_table(tally))
    console.print(traffic_table(latencies_ms, elapsed_seconds))
    if not tally.failures:
        console.print("[green]Every scenario behaved as expected.[/green]")
        return
    console.print(f"[red]{len(tally.failures)} scenario(s) did not behave as expected:[/red]")
    for failure in tally.failures[:FAILURES_SHOWN_MAX]:
        console.print(f"  • {failure}", markup=False, highlight=False)
    if len(tally.failures) > FAILURES_SHOWN_MAX:
        console.print(f"  … and {len(tally.failures) - FAILURES_SHOWN_MAX} more")
