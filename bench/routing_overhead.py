"""What routing costs the payments benchmark: the same load (create → confirm → capture,
see api_throughput.py) with routing off, on with processor health in process, and on with
health shared through Redis, alternated, several rounds.

    .venv/bin/python bench/routing_overhead.py [--rounds 4] [--duration-seconds 15] [--clients 8] [--workers 2]

Target (issue 6): with routing on, the benchmark stays within 10% of its figure without.
A two-core VM's throughput moves ±10% run to run, so one pair of runs says little: the
modes run in a balanced order (A B C, C B A, …) so that drift falls on each alike, and
every mode's mean is printed with its 95% confidence interval, next to the CPU the whole
machine spent per request (server, PostgreSQL, Redis, load generator: the steadier figure).
Each run has a new merchant and a new API server; the last line is one JSON object.
Uses BASKETPAY_DATABASE_URL (or the embedded PostgreSQL) and BASKETPAY_REDIS_URL (default
redis://127.0.0.1:6379/0; the database's routing keys are deleted before each Redis run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from dataclasses import dataclass
from typing import Any

import redis
from api_throughput import api_figures, create_bench_merchant, measure_api
from scipy import stats
from sqlalchemy.engine import make_url

from basketpay.db.migrate import migrate
from basketpay.settings import get_settings

TARGET_LOSS = 0.10
MODES = ("off", "in_process", "redis")


@dataclass(frozen=True, slots=True)
class Run:
    mode: str
    ops_per_second: float
    machine_cpu_us_per_op: float
    cpu_by_process: dict[str, float]
    errors: int


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, help="runs of each mode")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration-seconds", type=int, default=15, help="measured time of each run")
    parser.add_argument("--workers", type=int, default=2, help="API server processes")
    parser.add_argument("--warmup-seconds", type=float, default=2.0)
    parser.add_argument("--redis-url", default=os.environ.get("BASKETPAY_REDIS_URL") or "redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    args.connector = "sandbox"
    return args


def mode_env(mode: str, redis_url: str) -> dict[str, str]:
    return {"BASKETPAY_ROUTING_ENABLED": "false" if mode == "off" else "true",
            "BASKETPAY_REDIS_URL": redis_url if mode == "redis" else ""}


def forget_health(redis_url: str, database: str | None) -> None:
    """Each Redis run starts with no shared health, as the in-process runs do (app.py's key prefix)."""
    client = redis.Redis.from_url(redis_url)
    try:
        for key in client.scan_iter(match=f"basketpay:{database}:routing:*", count=1000):
            client.delete(key)
    finally:
        client.close()


def schedule(rounds: int) -> list[str]:
    """A B C, C B A, A B C, …: each mode as often early as late in a round."""
    return [mode for number in range(rounds) for mode in (MODES if number % 2 == 0 else MODES[::-1])]


def mean_interval(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of its 95% confidence interval (Student's t)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, float("nan")
    half = stats.t.ppf(0.975, len(values) - 1) * statistics.stdev(values) / len(values) ** 0.5
    return mean, float(half)


def summary(runs: list[Run]) -> dict[str, Any]:
    by_mode = {mode: [run for run in runs if run.mode == mode] for mode in MODES}
    base = statistics.fmean(run.ops_per_second for run in by_mode["off"])
    figures: dict[str, Any] = {}
    for mode, chosen in by_mode.items():
        ops, ops_half = mean_interval([run.ops_per_second for run in chosen])
        cpu, cpu_half = mean_interval([run.machine_cpu_us_per_op for run in chosen])
        loss = None if mode == "off" else loss_interval([run.ops_per_second for run in chosen],
                                                        [run.ops_per_second for run in by_mode["off"]])
        split = {name: round(statistics.fmean(run.cpu_by_process.get(name, 0.0) for run in chosen), 1)
                 for name in chosen[0].cpu_by_process}
        figures[mode] = {"runs": [run.ops_per_second for run in chosen], "ops_per_second": round(ops, 1),
                         "cpu_us_per_op_by_process": split,
                         "ops_ci95": round(ops_half, 1), "machine_cpu_us_per_op": round(cpu, 1),
                         "cpu_ci95": round(cpu_half, 1), "vs_off": round(ops / base - 1, 4), "loss_ci95": loss}
    return figures


def loss_interval(values: list[float], baseline: list[float]) -> list[float] | None:
    """The 95% interval of (mean / baseline mean − 1), from Welch's interval for the difference."""
    if len(values) < 2 or len(baseline) < 2:
        return None
    difference = statistics.fmean(values) - statistics.fmean(baseline)
    va, vb = statistics.variance(values) / len(values), statistics.variance(baseline) / len(baseline)
    freedom = (va + vb) ** 2 / (va**2 / (len(values) - 1) + vb**2 / (len(baseline) - 1))
    half = stats.t.ppf(0.975, freedom) * (va + vb) ** 0.5
    base = statistics.fmean(baseline)
    return [round((difference - half) / base, 4), round((difference + half) / base, 4)]


def print_summary(figures: dict[str, Any]) -> None:
    print(f"\n{'mode':<11} {'ops/s (mean ± 95%)':>20} {'vs off':>8} {'95% interval':>18} {'machine CPU µs/op':>19}")
    for mode, row in figures.items():
        interval = "" if row["loss_ci95"] is None else f"[{row['loss_ci95'][0]:+.1%}, {row['loss_ci95'][1]:+.1%}]"
        print(f"{mode:<11} {row['ops_per_second']:>12.1f} ± {row['ops_ci95']:<5.1f} {row['vs_off']:>+8.1%} "
              f"{interval:>18} {row['machine_cpu_us_per_op']:>11.1f} ± {row['cpu_ci95']:.1f}  "
              + ", ".join(f"{name} {us:.0f}" for name, us in row["cpu_us_per_op_by_process"].items()))
    worst = min(row["vs_off"] for mode, row in figures.items() if mode != "off")
    verdict = "met" if worst >= -TARGET_LOSS else "NOT met"
    print(f"\nrouting on within {TARGET_LOSS:.0%} of off (by the means): {verdict}\n")


def main() -> int:
    args = parse_args()
    settings = get_settings()
    url = migrate(settings)
    runs: list[Run] = []
    for number, mode in enumerate(schedule(args.rounds), start=1):
        secret_key, _ = create_bench_merchant(settings)
        if mode == "redis":
            forget_health(args.redis_url, make_url(url).database)
        result, spent = measure_api(settings, url, secret_key, args, mode_env(mode, args.redis_url))
        figures = api_figures(result, args, spent)
        split = figures["cpu_us_per_op_by_process"] or {}
        runs.append(Run(mode, figures["ops_per_second"], figures["machine_cpu_us_per_op"], split, figures["errors"]))
        print(f"run {number:>2} {mode:<11} {figures['ops_per_second']:8.1f} ops/s "
              f"{figures['machine_cpu_us_per_op']:8.1f} µs CPU/op ({', '.join(f'{k} {v:.0f}' for k, v in split.items())})"
              f"  errors {figures['errors']}", flush=True)
    figures = summary(runs)
    print_summary(figures)
    print(json.dumps({"clients": args.clients, "workers": args.workers, "duration_seconds": args.duration_seconds,
                      "rounds": args.rounds, "errors": sum(run.errors for run in runs), **figures}))
    return 1 if any(run.errors for run in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
