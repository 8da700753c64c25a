"""Parse speed of the settlement formats: writes a Stripe itemized payout reconciliation
report and an Adyen settlement details report of N lines into /tmp (seeded, in time order
like the real files: a day's lines, a dozen per second) and times each, best of three
passes in CPU seconds (the machine is shared): csv.reader alone, and basketpay's `read`
(csv.reader included). Target: 1,000,000 lines well under 8 s, at most 5 µs a line
beyond csv.reader.

    .venv/bin/python bench/parse_settlement.py [--lines 1000000]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import time
from collections.abc import Callable
from pathlib import Path

from basketpay.reconciliation.formats.detect import read
from basketpay.sandboxes.adyen_api.settlement import COLUMNS as ADYEN_COLUMNS
from basketpay.sandboxes.stripe_api.settlement import ITEMIZED_COLUMNS

DAY = dt.datetime(2025, 3, 14, tzinfo=dt.UTC)
PASSES = 3


def _when(index: int, lines: int) -> str:
    return (DAY + dt.timedelta(seconds=index * 86_400 // lines)).strftime("%Y-%m-%d %H:%M:%S")


def _major(minor: int) -> str:
    return f"{'-' if minor < 0 else ''}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def stripe_line(index: int, lines: int, rng: random.Random) -> list[str]:
    currency, refund = ("usd", "eur")[index % 7 == 0], rng.random() < 0.1
    gross = rng.randint(100, 50_000) * (-1 if refund else 1)
    fee = 0 if refund else gross * 29 // 1000 + 30
    when = _when(index, lines)
    return [f"po_{currency}{index // 200_000}", "2025-03-15 00:00:00", f"txn_{index:024d}", when, when, currency,
            _major(gross), _major(fee), _major(gross - fee), "refund" if refund else "charge", f"ch_{index}",
            f"Order {index}", f"ch_{index}", f"pi_{index:024d}", f"cus_{index % 5000}", "visa", "credit", "US"]


def adyen_line(index: int, lines: int, rng: random.Random) -> list[str]:
    currency, refund = ("EUR", "USD")[index % 5 == 0], rng.random() < 0.1
    gross = rng.randint(100, 50_000)
    fees = [12, gross * 60 // 10_000, gross * 13 // 10_000, gross * 180 // 10_000 + 10]
    net = gross - sum(fees)
    when = _when(index, lines)
    gross_cells, net_cells = ([_major(gross), ""], [_major(-net), ""]) if refund else \
        (["", _major(gross)], ["", _major(net)])
    if refund:
        fees, net_cells = [12, 0, 0, 0], [_major(gross + 12), ""]
    return ["Company", f"Shop{index % 3}", f"{index:016d}", f"order-{index}", "visa", when, "UTC",
            "Refunded" if refund else "Settled", f"M{index:015d}", currency, *gross_cells, "1", currency, *net_cells,
            *(_major(fee) if fee else "" for fee in fees), "visacredit", "812", *([""] * 7),
            "<auto>" if index % 9 == 0 else f"att_{index}", when, "UTC"]


def write(path: Path, columns: tuple[str, ...], line: Callable[[int, int, random.Random], list[str]],
          lines: int) -> Path:
    """The file, written unless an earlier run left it (the same seed writes the same file)."""
    if path.exists():
        return path
    rng = random.Random(7)
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(line(index, lines, rng) for index in range(lines))
    return path


def timed(action: Callable[[], int]) -> tuple[float, int]:
    best, count = float("inf"), 0
    for _ in range(PASSES):
        started = time.process_time()
        count = action()
        best = min(best, time.process_time() - started)
    return best, count


def measure(path: Path) -> None:
    def csv_only() -> int:
        with path.open(newline="", encoding="utf-8") as file:
            return sum(1 for _ in csv.reader(file)) - 1

    def parse() -> int:
        with path.open(newline="", encoding="utf-8") as file:
            _, rows = read(file)
            return sum(1 for _ in rows)

    csv_s, lines = timed(csv_only)
    parse_s, rows = timed(parse)
    assert rows == lines, (rows, lines)
    print(f"{path.name}: {lines:,} lines; csv.reader {csv_s:.2f} s; read() {parse_s:.2f} s "
          f"({parse_s / lines * 1e6:.2f} µs/line, {(parse_s - csv_s) / lines * 1e6:.2f} µs/line beyond csv.reader)")


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--lines", type=int, default=1_000_000)
    lines = arguments.parse_args().lines
    measure(write(Path(f"/tmp/bench_stripe_itemized_{lines}.csv"), ITEMIZED_COLUMNS, stripe_line, lines))
    measure(write(Path(f"/tmp/bench_adyen_settlement_details_{lines}.csv"), ADYEN_COLUMNS, adyen_line, lines))


if __name__ == "__main__":
    main()
