"""Order lifecycles per second, end to end: the API and the order workflows together.

    .venv/bin/python bench/orders.py [--clients 16] [--duration-seconds 20] [--api-workers 1]
                                     [--workers 1] [--worker-concurrency 8]

One lifecycle: create an order (estimated basket, card tender, tip; the card is
authorized in the request) → three item events (weighed, substituted, added) → change
the tip → deliver (the deliver workflow captures, allocates in the ledger and, the tip
change window being 0, charges the tip as a merchant-initiated payment in the same step:
one workflow a lifecycle) → the order reaches `completed`. `--clients` clients run
lifecycles back to back; a lifecycle counts when its
order completes inside the measured window (completion is read from the database every
20 ms, not polled through the API). The tip change window is 0 so the tip is charged at
once. CPU time of the API, the workers and PostgreSQL is measured over the window. The
last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import psutil
from cpu_groups import cpu_seconds, postgres_processes, tree
from http11 import HttpConnection

from basketpay.db.engine import create_sync_engine
from basketpay.db.migrate import migrate
from basketpay.merchants.service import create_merchant
from basketpay.server import ServerProcess, terminate
from basketpay.settings import get_settings

TARGET = 100.0
COMPLETION_POLL_SECONDS = 0.02
LINES = [
    {"id": "apples", "unit_price": 300, "quantity": 2, "snap_eligible": True},
    {"id": "beef", "unit_price": 899, "quantity": 1000, "weighed": True, "snap_eligible": True},
    {"id": "soda", "unit_price": 199, "quantity": 6, "tax_rate_bps": 700, "deposit_per_unit": 5},
]
EVENTS = [
    {"type": "weighed", "line_id": "beef", "quantity": 1180},
    {"type": "substituted", "line_id": "soda", "line": {"id": "seltzer", "unit_price": 219, "quantity": 6,
                                                        "tax_rate_bps": 700, "deposit_per_unit": 5}},
    {"type": "added", "line_id": "milk", "line": {"id": "milk", "unit_price": 349, "quantity": 1, "snap_eligible": True}},
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration-seconds", type=float, default=20.0)
    parser.add_argument("--warmup-seconds", type=float, default=3.0)
    parser.add_argument("--api-workers", type=int, default=1, help="API server processes")
    parser.add_argument("--workers", type=int, default=1, help="`basketpay worker` processes")
    parser.add_argument("--worker-concurrency", type=int, default=8, help="workflows at once per worker")
    return parser.parse_args()


@dataclass(slots=True)
class Completions:
    """Orders waiting to complete, resolved by one poller reading the database."""

    waiting: dict[str, asyncio.Future[float]] = field(default_factory=dict)

    async def poll(self, url: str, stop: asyncio.Event) -> None:
        import psycopg

        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
            while not stop.is_set():
                if self.waiting:
                    rows = await (await connection.execute(
                        "SELECT id, status FROM orders WHERE id = ANY(%s) AND status IN ('completed', 'canceled')",
                        [list(self.waiting)])).fetchall()
                    now = time.monotonic()
                    for order_id, status in rows:
                        future = self.waiting.pop(order_id)
                        if status == "completed":
                            future.set_result(now)
                        else:
                            future.set_exception(RuntimeError(f"{order_id} was {status}"))
                await asyncio.sleep(COMPLETION_POLL_SECONDS)


@dataclass(slots=True)
class Tally:
    window: tuple[float, float]
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def _post(http: HttpConnection, path: str, body: dict[str, Any], key: bool = False) -> dict[str, Any]:
    status, answer = await http.post(path, orjson.dumps(body), uuid.uuid4().hex if key else None)
    if status != 200:
        raise RuntimeError(f"{path}: HTTP {status} {answer[:200]!r}")
    return orjson.loads(answer)  # type: ignore[no-any-return]


async def lifecycle(http: HttpConnection, payment_method: str, completions: Completions) -> None:
    order = await _post(http, "/v1/orders", {
        "currency": "usd", "lines": LINES, "fees": [{"name": "delivery", "amount": 399}], "tip": 300,
        "tenders": [{"type": "card", "payment_method": payment_method}]}, key=True)
    order_id = order["id"]
    for event in EVENTS:
        await _post(http, f"/v1/orders/{order_id}/events", {"id": uuid.uuid4().hex, **event})
    await _post(http, f"/v1/orders/{order_id}/tip", {"amount": 450})
    completed = asyncio.get_running_loop().create_future()
    completions.waiting[order_id] = completed
    await _post(http, f"/v1/orders/{order_id}/deliver", {})
    await completed


async def client(host: str, port: int, secret: str, payment_method: str, completions: Completions,
                 tally: Tally, end: float) -> None:
    http = HttpConnection(host, port, secret)
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            await lifecycle(http, payment_method, completions)
        except Exception as error:
            tally.errors.append(str(error)[:300])
            http.close()
            continue
        finished = time.monotonic()
        if tally.window[0] <= finished <= tally.window[1]:
            tally.latencies.append(finished - started)
    http.close()


async def run_load(args: argparse.Namespace, base_url: str, secret: str, payment_method: str, url: str,
                   groups: dict[str, list[psutil.Process]]) -> tuple[Tally, dict[str, float]]:
    host, port = base_url.removeprefix("http://").split(":")
    start = time.monotonic()
    window = (start + args.warmup_seconds, start + args.warmup_seconds + args.duration_seconds)
    tally, completions, stop = Tally(window), Completions(), asyncio.Event()
    poller = asyncio.create_task(completions.poll(url, stop))
    clients = [asyncio.create_task(client(host, int(port), secret, payment_method, completions, tally, window[1]))
               for _ in range(args.clients)]
    await asyncio.sleep(args.warmup_seconds)
    groups["postgres"] = postgres_processes()  # the backends the pools have opened by now
    before = {name: cpu_seconds(processes) for name, processes in groups.items()}
    before["load generator"] = cpu_seconds([psutil.Process()])
    await asyncio.sleep(args.duration_seconds)
    after = {name: cpu_seconds(processes) for name, processes in groups.items()}
    after["load generator"] = cpu_seconds([psutil.Process()])
    await asyncio.wait(clients, timeout=60)
    stop.set()
    await poller
    return tally, {name: after[name] - before[name] for name in after}


def start_workers(args: argparse.Namespace, url: str) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, **bench_env(), "BASKETPAY_DATABASE_URL": url,
           "BASKETPAY_WORKFLOW_CONCURRENCY": str(args.worker_concurrency)}
    log = open(os.path.join(get_settings().data_dir, "bench-orders-workers.log"), "ab")
    return [subprocess.Popen([sys.executable, "-m", "basketpay.cli.main", "worker", "--executor-id",
                              f"bench-worker-{index}"], env=env, stdout=log, stderr=log)
            for index in range(args.workers)]


def bench_env() -> dict[str, str]:
    return {"BASKETPAY_RATE_LIMIT_REQUESTS_PER_SECOND": "1000000", "BASKETPAY_RATE_LIMIT_BURST_MAX": "1000000",
            "BASKETPAY_ORDER_TIP_CHANGE_WINDOW_SECONDS": "0", "BASKETPAY_WORKFLOW_POLL_INTERVAL_SECONDS": "0.02",
            "BASKETPAY_LOG_LEVEL": "WARNING"}


def setup(url: str, base_url: str) -> tuple[str, str]:
    engine = create_sync_engine(get_settings().model_copy(update={"database_url": url}))
    with engine.begin() as connection:
        secret = create_merchant(connection, "bench-orders").secret_key
    engine.dispose()
    import httpx

    response = httpx.post(base_url + "/v1/payment_methods", headers={
        "Authorization": f"Bearer {secret}", "Idempotency-Key": uuid.uuid4().hex}, json={
        "type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2031, "cvc": "123"}})
    response.raise_for_status()
    return secret, str(response.json()["id"])


def figures(args: argparse.Namespace, tally: Tally, cpu: dict[str, float]) -> dict[str, Any]:
    done = len(tally.latencies)
    rate = done / args.duration_seconds
    ordered = sorted(tally.latencies)

    def pct(fraction: float) -> float | None:
        return None if not ordered else round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000, 1)

    per = {f"cpu_ms_per_lifecycle_{name.replace(' ', '_')}": round(seconds * 1000 / done, 2) if done else None
           for name, seconds in cpu.items()}
    return {"lifecycles_per_second": round(rate, 1), "target": TARGET, "target_met": rate >= TARGET,
            "lifecycles": done, "errors": len(tally.errors), "latency_p50_ms": pct(0.5), "latency_p99_ms": pct(0.99),
            "clients": args.clients, "api_workers": args.api_workers, "workers": args.workers,
            "worker_concurrency": args.worker_concurrency, "duration_seconds": args.duration_seconds,
            # With no tip change window the deliver workflow charges the tip too: one workflow a lifecycle.
            "workflows_per_lifecycle": 1,
            "worker_cpu_ms_per_workflow": round(cpu["workers"] * 1000 / done, 2) if done else None, **per}


def main() -> int:
    args = parse_args()
    settings = get_settings()
    url = migrate(settings)
    server = ServerProcess(url, env=bench_env(), workers=args.api_workers,
                           log_path=settings.data_dir / "bench-orders-server.log").start()
    workers = start_workers(args, url)
    try:
        secret, payment_method = setup(url, server.base_url)
        assert server.process is not None
        groups = {"api": tree(server.process.pid), "workers": [psutil.Process(w.pid) for w in workers]}
        tally, cpu = asyncio.run(run_load(args, server.base_url, secret, payment_method,
                                          url.replace("postgresql+psycopg://", "postgresql://"), groups))
    finally:
        for worker in workers:
            terminate(worker)
        server.stop()
    result = figures(args, tally, cpu)
    for sample in tally.errors[:5]:
        print("error:", sample)
    print(f"{result['lifecycles_per_second']} order lifecycles/s (target {TARGET}), p50 {result['latency_p50_ms']} ms,"
          f" p99 {result['latency_p99_ms']} ms, errors {result['errors']}")
    print(json.dumps(result))
    return 1 if tally.errors else 0


if __name__ == "__main__":
    sys.exit(main())
