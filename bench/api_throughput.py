"""API throughput (create → confirm → capture) next to pgbench on the same PostgreSQL.

    .venv/bin/python bench/api_throughput.py [--clients 8] [--duration-seconds 20] [--workers 2]

Uses BASKETPAY_DATABASE_URL, or the embedded PostgreSQL when it is unset. The API
server runs in a child process, the load generator in another (see loadgen.py);
the server is stopped before pgbench runs, so the two never compete. The last line
printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import httpx
from cpu_groups import CpuMeter, named, postgres_processes, tree
from loadgen import OPERATIONS, LoadConfig, LoadResult, run_load_in_process
from pgbench_tpcb import run_pgbench
from sqlalchemy import text

from basketpay.db.engine import create_sync_engine
from basketpay.db.migrate import migrate
from basketpay.merchants.service import create_merchant
from basketpay.sandboxes.runner import SandboxProcesses
from basketpay.server import ServerProcess
from basketpay.settings import Settings, get_settings

WARMUP_SECONDS = 2.0
RATIO_TARGET = 0.5
SETUP_TIMEOUT_SECONDS = 10.0
LOAD_TIMEOUT_SECONDS_EXTRA = 60.0  # process start-up, warm-up and drain on top of the duration
UNLIMITED = "1000000"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (and pgbench -c)")
    parser.add_argument("--duration-seconds", type=int, default=20, help="measured time of each half")
    parser.add_argument("--workers", type=int, default=2, help="API server processes")
    parser.add_argument("--warmup-seconds", type=float, default=WARMUP_SECONDS, help="load not counted")
    parser.add_argument(
        "--connector", choices=("sandbox", "stripe"), default="sandbox",
        help="sandbox: the in-process sandbox; stripe: the Stripe connector against `basketpay sim`",
    )
    return parser.parse_args()


def create_bench_merchant(settings: Settings) -> tuple[str, str]:
    """A fresh merchant's secret key, and the PostgreSQL server's version."""
    engine = create_sync_engine(settings)
    try:
        with engine.begin() as connection:
            secret_key = create_merchant(connection, "bench").secret_key
            version = str(connection.scalar(text("SHOW server_version")))
    finally:
        engine.dispose()
    return secret_key, version


def create_payment_method(base_url: str, secret_key: str) -> str:
    response = httpx.post(
        base_url + "/v1/payment_methods",
        json={"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031,
                                       "cvc": "123"}},
        headers={"Authorization": f"Bearer {secret_key}", "Idempotency-Key": "bench-pm-" + secret_key[-12:]},
        timeout=SETUP_TIMEOUT_SECONDS,
    )
    if response.status_code != 200:
        raise RuntimeError(f"creating the payment method failed: HTTP {response.status_code} {response.text}")
    return str(response.json()["id"])


def connector_env(args: argparse.Namespace, sandboxes: SandboxProcesses | None) -> dict[str, str]:
    if sandboxes is None:
        return {}
    return {
        "BASKETPAY_DEFAULT_CONNECTOR": "stripe", "BASKETPAY_STRIPE_API_BASE": sandboxes.urls["stripe"],
        "BASKETPAY_STRIPE_SECRET_KEY": "sk_test_bench",
    }


def measure_api(settings: Settings, url: str, secret_key: str, args: argparse.Namespace,
                env: dict[str, str] | None = None) -> tuple[LoadResult, dict[str, float]]:
    """One load run against a new API server (`env` added to its environment): the load's
    result, and the CPU seconds of the server, PostgreSQL and Redis over the whole load."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sandboxes = SandboxProcesses().start() if args.connector == "stripe" else None
    server = ServerProcess(
        url,
        env={
            "BASKETPAY_LOG_LEVEL": "WARNING", "BASKETPAY_DATA_DIR": str(settings.data_dir),
            "BASKETPAY_RATE_LIMIT_REQUESTS_PER_SECOND": UNLIMITED, "BASKETPAY_RATE_LIMIT_BURST_MAX": UNLIMITED,
            **connector_env(args, sandboxes), **(env or {}),
        },
        workers=args.workers,
        log_path=settings.data_dir / "bench-server.log",
    )
    try:
        server.start()
        address = urlsplit(server.base_url)
        config = LoadConfig(
            host=str(address.hostname), port=int(address.port or 80), secret_key=secret_key,
            payment_method=create_payment_method(server.base_url, secret_key),
            clients=args.clients, warmup_seconds=args.warmup_seconds, duration_seconds=args.duration_seconds,
        )
        timeout_seconds = args.warmup_seconds + args.duration_seconds + LOAD_TIMEOUT_SECONDS_EXTRA
        assert server.process is not None
        meter = CpuMeter({"api": partial(tree, server.process.pid), "postgres": postgres_processes,
                          "redis": partial(named, "redis-server")})
        meter.start()
        result = run_load_in_process(config, timeout_seconds)
        return result, meter.stop()
    finally:
        server.stop()
        if sandboxes is not None:
            sandboxes.stop()


def percentile_ms(sorted_seconds: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile, in milliseconds."""
    if not sorted_seconds:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_seconds)))
    return round(sorted_seconds[min(rank, len(sorted_seconds)) - 1] * 1000, 2)


def latency_table(result: LoadResult) -> dict[str, dict[str, Any]]:
    series = {op: sorted(result.latencies_seconds[op]) for op in OPERATIONS}
    series["all"] = sorted(value for op in OPERATIONS for value in result.latencies_seconds[op])
    return {
        name: {"count": len(values), "p50": percentile_ms(values, 0.50), "p99": percentile_ms(values, 0.99)}
        for name, values in series.items()
    }


def print_api(result: LoadResult, figures: dict[str, Any]) -> None:
    print(f"\nAPI: {figures['clients']} clients, {figures['workers']} workers, {result.window_seconds:g} s measured")
    print(f"  ops/s       {figures['ops_per_second']:10.1f}   (HTTP requests)")
    print(f"  payments/s  {figures['payments_per_second']:10.1f}   (create → confirm → capture)")
    print(f"  {'latency ms':<10} {'count':>7} {'p50':>8} {'p99':>8}")
    for name, row in figures["latency_ms"].items():
        print(f"  {name:<10} {row['count']:>7} {row['p50'] or 0:>8.2f} {row['p99'] or 0:>8.2f}")
    print(f"  load generator CPU: {figures['load_cpu_us_per_op']} µs per op;"
          f" the whole machine: {figures['machine_cpu_us_per_op']} µs per op"
          f" ({', '.join(f'{name} {us}' for name, us in (figures['cpu_us_per_op_by_process'] or {}).items())})")
    print(f"  errors      {result.errors}")
    for sample in result.error_samples:
        print(f"    {sample}")


def cpu_split(result: LoadResult, spent: dict[str, float], ops: int) -> dict[str, float]:
    """The machine's CPU per op in the window, shared out by each group's part of the whole
    load (warm-up included); the load generator's is its own, in the window."""
    load = result.cpu_seconds / ops * 1e6
    total = sum(spent.values())
    rest = result.machine_busy_seconds / ops * 1e6 - load
    return {"load": round(load, 1), **{name: round(rest * seconds / total, 1) for name, seconds in spent.items()}}


def api_figures(result: LoadResult, args: argparse.Namespace, spent: dict[str, float]) -> dict[str, Any]:
    ops = sum(len(values) for values in result.latencies_seconds.values())
    return {
        "clients": args.clients, "workers": args.workers, "connector": args.connector,
        "duration_seconds": args.duration_seconds,
        "ops_per_second": round(ops / result.window_seconds, 1),
        "payments_per_second": round(result.payments / result.window_seconds, 1),
        "latency_ms": latency_table(result),
        "errors": result.errors,
        "load_cpu_us_per_op": round(result.cpu_seconds / ops * 1e6, 1) if ops else None,
        "machine_cpu_us_per_op": round(result.machine_busy_seconds / ops * 1e6, 1) if ops else None,
        "cpu_us_per_op_by_process": cpu_split(result, spent, ops) if ops and sum(spent.values()) else None,
    }


def main() -> int:
    args = parse_args()
    settings = get_settings()
    url = migrate(settings)
    secret_key, postgres_version = create_bench_merchant(settings)
    result, spent = measure_api(settings, url, secret_key, args)
    figures = {**api_figures(result, args, spent), "postgres_version": postgres_version}
    print_api(result, figures)

    print(f"\npgbench tpcb-like: -c {args.clients} -T {args.duration_seconds}, same server …", flush=True)
    tps = run_pgbench(url, settings.data_dir, args.clients, args.duration_seconds)
    ratio = figures["ops_per_second"] / tps
    figures.update(pgbench_tps=round(tps, 1), ratio=round(ratio, 3), ratio_target=RATIO_TARGET)
    print(f"  tps         {tps:10.1f}   (without initial connection time)")
    verdict = "met" if ratio >= RATIO_TARGET else "NOT met"
    print(f"\nops/s ÷ pgbench TPS = {ratio:.3f}   target ≥ {RATIO_TARGET}: {verdict}\n")
    print(json.dumps(figures))
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
