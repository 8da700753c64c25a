"""What the batches did: for payments, outcomes, money moved per currency (exact, from the
final intents) and request latency; for grocery orders, each order's end and the money it
moved per tender; rendered as rich tables."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich import box
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
ORDER_TENDERS = {"snap_ebt": "EBT", "credit": "credit", "gift_card": "gift", "card": "card"}  # type -> column
NOT_APPLICABLE = "–"


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


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One grocery order as the report shows it: how it ended and the money it moved."""

    index: int
    scenario: str
    status: str | None  # None: the order was never created
    total: int = 0  # the basket, without the tip
    tip: int = 0  # charged
    captured: dict[str, int] = field(default_factory=dict)  # by tender type, for the tenders it had
    refunded: int = 0
    failure: str | None = None


@dataclass
class OrderTally:
    rows: list[OrderRow] = field(default_factory=list)

    def record(self, index: int, scenario: str, order: dict[str, Any] | None, failure: str | None) -> None:
        if order is None:
            self.rows.append(OrderRow(index, scenario, None, failure=failure))
            return
        captured: Counter[str] = Counter()
        for tender in order["tenders"]:
            captured[tender["type"]] += tender["captured"]
        self.rows.append(OrderRow(index, scenario, order["status"], order["amount_total"], order["tip"]["captured"],
                                  dict(captured), order["amount_refunded"], failure))

    @property
    def failures(self) -> list[str]:
        return [f"order {row.index} ({row.scenario}): {row.failure}" for row in self.ordered() if row.failure]

    def ordered(self) -> list[OrderRow]:
        return sorted(self.rows, key=lambda row: row.index)

    def totals(self) -> OrderRow:
        captured: Counter[str] = Counter()
        for row in self.rows:
            captured.update(row.captured)
        return OrderRow(len(self.rows), "all orders", "", sum(row.total for row in self.rows),
                        sum(row.tip for row in self.rows), dict(captured), sum(row.refunded for row in self.rows))


def grouped(amount_minor: int, currency: str) -> str:
    """1234567 usd -> "12,345.67", exactly (string arithmetic on format_major, no floats)."""
    whole, dot, fraction = format_major(amount_minor, currency).partition(".")
    return f"{int(whole):,}{dot}{fraction}"


def major_units(amount_minor: int, currency: str) -> str:
    """1234567 usd -> "USD 12,345.67"."""
    return f"{currency.upper()} {grouped(amount_minor, currency)}"


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


def _order_amounts(row: OrderRow, currency: str) -> list[str]:
    if row.status is None:
        return [NOT_APPLICABLE] * (3 + len(ORDER_TENDERS))
    tenders = [grouped(row.captured[kind], currency) if kind in row.captured else NOT_APPLICABLE
               for kind in ORDER_TENDERS]
    return [grouped(row.total, currency), grouped(row.tip, currency), *tenders, grouped(row.refunded, currency)]


def orders_table(tally: OrderTally, elapsed_seconds: float, currency: str = "usd") -> Table:
    # Eleven columns: no padding, one space between columns, so that 80 columns hold them.
    totals, failed = tally.totals(), len(tally.failures)
    table = Table(
        title=f"Orders ({currency.upper()})", title_justify="left", box=box.SIMPLE, padding=0, show_edge=False, show_footer=True,
        footer_style="red" if failed else "green", caption_justify="left",
        caption=f"total: the basket, without the tip. EBT … card: what each tender captured (the tip is "
                f"charged to the card apart). {len(tally.rows)} orders in {elapsed_seconds:.1f} s.",
    )
    headers = ("#", "scenario", "status", "total", "tip", *ORDER_TENDERS.values(), "refunded", "result")
    footers = ("", totals.scenario, "", *_order_amounts(totals, currency), f"{len(tally.rows) - failed} ok")
    for header, footer in zip(headers, footers, strict=True):
        text = header in ("scenario", "status", "result")
        table.add_column(header, footer=footer, justify="left" if text else "right", no_wrap=header != "scenario")
    for row in tally.ordered():
        result = "[red]failed[/red]" if row.failure else "[green]ok[/green]"
        table.add_row(str(row.index), row.scenario, row.status or NOT_APPLICABLE, *_order_amounts(row, currency),
                      result)
    return table


def print_failures(console: Console, failures: list[str], noun: str) -> None:
    if not failures:
        console.print(f"[green]Every {noun} behaved as expected.[/green]")
        return
    console.print(f"[red]{len(failures)} {noun}(s) did not behave as expected:[/red]")
    for failure in failures[:FAILURES_SHOWN_MAX]:
        console.print(f"  • {failure}", markup=False, highlight=False)
    if len(failures) > FAILURES_SHOWN_MAX:
        console.print(f"  … and {len(failures) - FAILURES_SHOWN_MAX} more")


def print_report(console: Console, tally: Tally, latencies_ms: list[float], elapsed_seconds: float) -> None:
    console.print(outcomes_table(tally))
    console.print(money_table(tally))
    console.print(traffic_table(latencies_ms, elapsed_seconds))
    print_failures(console, tally.failures, "scenario")


def print_orders_report(console: Console, tally: OrderTally, elapsed_seconds: float) -> None:
    console.print(orders_table(tally, elapsed_seconds))
    print_failures(console, tally.failures, "order")
