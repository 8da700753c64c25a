"""Ledger write throughput: transfers per second through `insert_entries` and the
balance trigger (migration 0005), batched and one transfer per transaction.

    .venv/bin/python bench/ledger.py [--writers 4 --batch-size 1000 --duration-seconds 15]

What one run does: creates a fresh database on the PostgreSQL server at `--server-url`
(dropped at the end unless `--keep-database`), migrates it, creates one merchant and
10,000 USD ledger accounts (asset/liability, guard 'none', one balance row each; the 10
most popular accounts are hot, spread over `--hot-buckets` balance rows). Transfers pick
their debit and credit accounts Zipf-skewed (exponent 1.0, debit ≠ credit), an amount of
1..10,000 minor units, and for a hot account a random bucket.

- batched: `--writers` asyncio tasks, each on its own pooled connection, commit
  transactions of `--batch-size` transfers (one Entry of two postings each) through
  `insert_entries`; deadlocks and serialization failures retry the batch (counted);
- unbatched: the same writers, one transfer per transaction; p50/p99 commit latency.

Each mode runs an uncounted warm-up, then `--duration-seconds` measured. Afterwards
`basketpay.ledger.check.check_ledger` audits the books; the run fails loudly if it does
not pass or if the entries on disk are not exactly the transfers committed. Prints the
figures, a summary table and, last, one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import math
import os
import random
import secrets
import sys
import time
from dataclasses import dataclass, field
from typing import Any, cast

import psycopg
import sqlalchemy
from psycopg import AsyncConnection, sql

from basketpay.db.database import Database
from basketpay.db.migrate import migrate
from basketpay.ledger.batch import ENTRIES_PER_BATCH_MAX, insert_entries
from basketpay.ledger.chart import NORMAL_BALANCE
from basketpay.ledger.check import check_ledger
from basketpay.ledger.posting import Entry, transfer
from basketpay.ledger.tables import BUCKETS_MAX
from basketpay.merchants.service import create_merchant
from basketpay.settings import Settings

SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ACCOUNTS_COUNT = 10_000
HOT_ACCOUNTS_COUNT = 10
ZIPF_EXPONENT = 1.0
CURRENCY = "USD"
AMOUNT_MINOR_MAX = 10_000
ACCOUNT_TYPES = ("asset", "liability")
WARMUP_SECONDS = 1.0
ATTEMPTS_MAX = 20  # per transaction, deadlocks and serialization failures included
RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
OTHER_CPU_PERCENT_WARNING = 10.0  # of one core, used by processes other than this one and its backends
STATEMENTS = ("entries", "postings")  # the two statements of insert_entries, in order


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=4, help="concurrent writers, one connection each")
    parser.add_argument("--batch-size", type=int, default=1000, help="transfers per transaction, batched mode")
    parser.add_argument("--duration-seconds", type=float, default=15.0, help="measured time of each mode")
    parser.add_argument("--warmup-seconds", type=float, default=WARMUP_SECONDS, help="load not counted, each mode")
    parser.add_argument("--hot-buckets", type=int, default=16, help="balance rows of each of the 10 hot accounts")
    parser.add_argument("--mode", choices=("both", "batched", "unbatched"), default="both")
    parser.add_argument("--server-url", default=SERVER_URL, help="libpq URL of a database on the server to use")
    parser.add_argument("--seed", type=int, default=None, help="seed of the transfers' random choices")
    parser.add_argument("--keep-database", action="store_true", help="do not drop the benchmark database")
    args = parser.parse_args()
    if args.writers < 1 or args.duration_seconds <= 0 or args.warmup_seconds < 0:
        parser.error("--writers must be at least 1, --duration-seconds positive, --warmup-seconds not negative")
    if not 1 <= args.batch_size <= ENTRIES_PER_BATCH_MAX:
        parser.error(f"--batch-size must be 1..{ENTRIES_PER_BATCH_MAX}")
    if not 1 <= args.hot_buckets <= BUCKETS_MAX:
        parser.error(f"--hot-buckets must be 1..{BUCKETS_MAX}")
    return args


@dataclass(frozen=True, slots=True)
class Accounts:
    """The accounts, most popular first, and the cumulative Zipf weights to pick them by."""

    ids: list[str]
    buckets: list[int]
    cumulative_weights: list[float]

    @classmethod
    def create(cls, hot_buckets: int) -> Accounts:
        ids = [f"la_bench_{rank:05d}" for rank in range(1, ACCOUNTS_COUNT + 1)]
        buckets = [hot_buckets if rank <= HOT_ACCOUNTS_COUNT else 1 for rank in range(1, ACCOUNTS_COUNT + 1)]
        weights, total = [], 0.0
        for rank in range(1, ACCOUNTS_COUNT + 1):
            total += 1.0 / rank**ZIPF_EXPONENT
            weights.append(total)
        return cls(ids, buckets, weights)

    def share(self, top: int) -> float:
        return self.cumulative_weights[top - 1] / self.cumulative_weights[-1]

    def pick(self, rng: random.Random) -> int:
        index = bisect.bisect_right(self.cumulative_weights, rng.random() * self.cumulative_weights[-1])
        return min(index, ACCOUNTS_COUNT - 1)

    def transfer(self, merchant_id: str, rng: random.Random) -> Entry:
        debit = self.pick(rng)
        credit = self.pick(rng)
        while credit == debit:
            credit = self.pick(rng)
        postings = transfer(
            self.ids[debit], self.ids[credit], CURRENCY, rng.randint(1, AMOUNT_MINOR_MAX),
            debit_bucket=rng.randrange(self.buckets[debit]), credit_bucket=rng.randrange(self.buckets[credit]),
        )
        return Entry(merchant_id=merchant_id, kind="bench_transfer", postings=postings)


# ---- the database: created, provisioned, audited, dropped ----

_INSERT_ACCOUNTS = """
INSERT INTO ledger_accounts (id, merchant_id, code, currency, type, normal_balance, guard, buckets)
SELECT id, %(merchant_id)s, code, %(currency)s, type, normal_balance, 'none', buckets
FROM unnest(%(id)s::text[], %(code)s::text[], %(type)s::text[], %(normal_balance)s::text[], %(buckets)s::smallint[])
     AS a(id, code, type, normal_balance, buckets)"""
_INSERT_BALANCES = """
INSERT INTO ledger_balances (account_id, bucket, merchant_id, currency, normal_balance, guard)
SELECT a.id, b.bucket, a.merchant_id, a.currency, a.normal_balance, a.guard
FROM ledger_accounts a CROSS JOIN LATERAL generate_series(0, a.buckets - 1) AS b(bucket)
WHERE a.merchant_id = %(merchant_id)s"""


def database_url(server_url: str, name: str) -> str:
    return sqlalchemy.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def sqlalchemy_url(url: str) -> str:
    return sqlalchemy.engine.make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def create_database(server_url: str) -> str:
    name = f"basketpay_bench_ledger_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def create_books(url: str, accounts: Accounts) -> tuple[str, str]:
    """Migrate, create the merchant and its accounts with their balance rows: (merchant id, server version)."""
    migrate(Settings(database_url=url))
    engine = sqlalchemy.create_engine(sqlalchemy_url(url))
    try:
        with engine.begin() as connection:
            merchant_id = create_merchant(connection, "bench-ledger").merchant_id
    finally:
        engine.dispose()
    types = [ACCOUNT_TYPES[index % len(ACCOUNT_TYPES)] for index in range(ACCOUNTS_COUNT)]
    columns = {
        "merchant_id": merchant_id, "currency": CURRENCY, "id": accounts.ids,
        "code": [account_id.removeprefix("la_") for account_id in accounts.ids], "type": types,
        "normal_balance": [NORMAL_BALANCE[type_] for type_ in types], "buckets": accounts.buckets,
    }
    with psycopg.connect(url) as connection:
        connection.execute(_INSERT_ACCOUNTS, columns)
        connection.execute(_INSERT_BALANCES, {"merchant_id": merchant_id})
        row = connection.execute("SHOW server_version").fetchone()
        version = "unknown" if row is None else str(row[0])
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("ANALYZE")  # the trigger's UPDATE is planned with statistics, as in production
    return merchant_id, version


def audit(url: str, transfers_committed: int) -> None:
    """`check_ledger`, and every committed transfer on disk exactly once; raises if not."""
    engine = sqlalchemy.create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as connection:
            report = check_ledger(connection)
            entries = connection.scalar(sqlalchemy.text("SELECT count(*) FROM ledger_entries"))
            postings = connection.scalar(sqlalchemy.text("SELECT count(*) FROM ledger_postings"))
    finally:
        engine.dispose()
    if not report.ok:
        raise SystemExit(f"ledger check: FAILED {json.dumps(report.violations, default=str)}")
    if entries != transfers_committed or postings != 2 * transfers_committed:
        raise SystemExit(f"ledger check: FAILED {entries} entries and {postings} postings on disk for "
                         f"{transfers_committed} transfers committed")
    print(f"ledger check: ok ({entries} entries, {postings} postings, all {len(report.counts)} checks pass)")


# ---- the writers ----


@dataclass(slots=True)
class Window:
    """Transactions committed between `measured_from` and `until` count; none starts after `until`.

    A transaction counts whole even if it began in the warm-up, and one still running at `until` not at all:
    the two edges roughly cancel, and matter less the more transactions a writer commits in the window."""

    measured_from: float
    until: float

    def counts(self, committed_at: float) -> bool:
        return self.measured_from <= committed_at <= self.until


@dataclass(slots=True)
class WriterStats:
    transactions: int = 0  # counted ones, below too
    transfers: int = 0
    retries: int = 0  # all of them, warm-up included
    transfers_committed: int = 0  # all of them, for the audit
    latencies_seconds: list[float] = field(default_factory=list)
    build_seconds: float = 0.0
    statement_seconds: list[float] = field(default_factory=lambda: [0.0] * len(STATEMENTS))
    commit_seconds: float = 0.0
    backend_cpu_seconds: float | None = 0.0  # the writers' PostgreSQL backends; None when /proc is not readable

    def count(self, committed: Committed, transfers: int, build_seconds: float) -> None:
        self.transactions += 1
        self.transfers += transfers
        self.latencies_seconds.append(committed.latency_seconds)
        self.build_seconds += build_seconds
        self.statement_seconds = [a + b for a, b in zip(self.statement_seconds, committed.statement_seconds,
                                                        strict=True)]
        self.commit_seconds += committed.commit_seconds

    def add(self, other: WriterStats) -> None:
        for name in ("transactions", "transfers", "retries", "transfers_committed", "build_seconds",
                     "commit_seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latencies_seconds.extend(other.latencies_seconds)
        if self.backend_cpu_seconds is None or other.backend_cpu_seconds is None:
            self.backend_cpu_seconds = None
        else:
            self.backend_cpu_seconds += other.backend_cpu_seconds
        self.statement_seconds = [a + b for a, b in zip(self.statement_seconds, other.statement_seconds, strict=True)]


class TimedConnection:
    """Hands `execute` on to the connection and notes each statement's wall time, in call order: how the
    time splits between insert_entries' two statements, without touching batch.py (it only calls execute).

    Wall time on one event loop: it includes waiting for the other writers' Python work."""

    def __init__(self, connection: AsyncConnection[Any]) -> None:
        self._connection = connection
        self.seconds: list[float] = []

    async def execute(self, query: Any, params: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return await self._connection.execute(query, params)
        finally:
            self.seconds.append(time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class Committed:
    at: float  # perf_counter() when the commit returned
    statement_seconds: list[float]  # the two statements of insert_entries
    commit_seconds: float
    latency_seconds: float  # BEGIN to COMMIT returned, of the attempt that committed


async def commit_batch(connection: AsyncConnection[Any], entries: list[Entry], stats: WriterStats) -> Committed:
    """One transaction of `entries`, retried on deadlock or serialization failure."""
    for _attempt in range(ATTEMPTS_MAX):
        timed = TimedConnection(connection)
        started = time.perf_counter()
        try:
            async with connection.transaction():
                await insert_entries(cast("AsyncConnection[Any]", timed), entries)
                inserted = time.perf_counter()
        except RETRYABLE:
            stats.retries += 1
            continue
        committed = time.perf_counter()
        return Committed(committed, timed.seconds, committed - inserted, committed - started)
    raise RuntimeError(f"a transaction failed {ATTEMPTS_MAX} times on deadlocks or serialization failures")


async def write_until(connection: AsyncConnection[Any], accounts: Accounts, merchant_id: str, batch_size: int,
                      window: Window, rng: random.Random, stats: WriterStats) -> None:
    while time.perf_counter() < window.until:
        started = time.perf_counter()
        entries = [accounts.transfer(merchant_id, rng) for _ in range(batch_size)]
        built = time.perf_counter()
        committed = await commit_batch(connection, entries, stats)
        stats.transfers_committed += batch_size
        if window.counts(committed.at):
            stats.count(committed, batch_size, built - started)


async def writer(database: Database, accounts: Accounts, merchant_id: str, batch_size: int, window: Window,
                 seed: int | None) -> WriterStats:
    rng, stats = random.Random(seed), WriterStats()
    async with database.connection() as connection:
        row = await (await connection.execute("SELECT pg_backend_pid() AS pid")).fetchone()
        backend_pid = -1 if row is None else int(row.pid)
        backend_cpu = process_cpu_seconds(backend_pid)
        await write_until(connection, accounts, merchant_id, batch_size, window, rng, stats)
        backend_cpu_after = process_cpu_seconds(backend_pid)
    if backend_cpu is not None and backend_cpu_after is not None:
        stats.backend_cpu_seconds = backend_cpu_after - backend_cpu
    return stats


# ---- one mode: the writers, the clock, the CPU ----


def machine_busy_seconds() -> float | None:
    """CPU time all CPUs of the machine have been busy since boot, from /proc/stat (Linux; None elsewhere)."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(value) for value in stat.readline().split()[1:9]]
    except OSError:
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # idle and iowait are not busy


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process on this machine (a local PostgreSQL backend), from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


@dataclass(frozen=True, slots=True)
class ModeResult:
    mode: str
    writers: int
    batch_size: int
    seconds: float
    stats: WriterStats
    elapsed_seconds: float  # warm-up included, as are the CPU times below
    client_cpu_seconds: float  # this process
    machine_busy_seconds: float | None  # all CPUs

    @property
    def transfers_per_second(self) -> float:
        return self.stats.transfers / self.seconds

    def latency_ms(self, fraction: float) -> float | None:
        """Nearest-rank percentile of the transactions' BEGIN-to-COMMIT time."""
        values = sorted(self.stats.latencies_seconds)
        if not values:
            return None
        return values[min(max(1, math.ceil(fraction * len(values))), len(values)) - 1] * 1000

    def figures(self) -> dict[str, Any]:
        stats, per_transaction = self.stats, max(self.stats.transactions, 1)
        return {
            "mode": self.mode, "writers": self.writers, "batch_size": self.batch_size, "seconds": self.seconds,
            "transfers_per_second": round(self.transfers_per_second, 1), "transactions": stats.transactions,
            "retries": stats.retries, "latency_p50_ms": _round(self.latency_ms(0.50)),
            "latency_p99_ms": _round(self.latency_ms(0.99)),
            "mean_ms": {"build": round(stats.build_seconds / per_transaction * 1000, 2),
                        **{name: round(seconds / per_transaction * 1000, 2)
                           for name, seconds in zip(STATEMENTS, stats.statement_seconds, strict=True)},
                        "commit": round(stats.commit_seconds / per_transaction * 1000, 2)},
            **self.cpu_figures(),
        }

    def cpu_figures(self) -> dict[str, float | None]:
        """Per transfer committed (warm-up included): this process, the writers' backends; and the machine."""
        transfers = max(self.stats.transfers_committed, 1)
        backend, busy = self.stats.backend_cpu_seconds, self.machine_busy_seconds
        other = None if busy is None or backend is None else busy - self.client_cpu_seconds - backend
        return {
            "client_cpu_us_per_transfer": round(self.client_cpu_seconds / transfers * 1e6, 1),
            "backend_cpu_us_per_transfer": None if backend is None else round(backend / transfers * 1e6, 1),
            "machine_cpu_busy_percent": None if busy is None else round(
                busy / ((os.cpu_count() or 1) * self.elapsed_seconds) * 100, 1),
            "other_cpu_percent_of_one_core": None if other is None else round(other / self.elapsed_seconds * 100, 1),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def run_mode(url: str, accounts: Accounts, merchant_id: str, args: argparse.Namespace,
                   mode: str, batch_size: int) -> ModeResult:
    database = await Database(Settings(database_url=url, database_pool_size=args.writers)).open()
    try:
        cpu, busy = time.process_time(), machine_busy_seconds()
        started = time.perf_counter()
        window = Window(started + args.warmup_seconds, started + args.warmup_seconds + args.duration_seconds)
        seeds = [None if args.seed is None else args.seed * 1_000 + index + batch_size for index in range(args.writers)]
        results = await asyncio.gather(*(writer(database, accounts, merchant_id, batch_size, window, seed)
                                         for seed in seeds))
        elapsed, cpu, busy_after = time.perf_counter() - started, time.process_time() - cpu, machine_busy_seconds()
    finally:
        await database.close()
    stats = WriterStats()
    for result in results:
        stats.add(result)
    busy = None if busy is None or busy_after is None else busy_after - busy
    return ModeResult(mode, args.writers, batch_size, args.duration_seconds, stats, elapsed, cpu, busy)


async def run_modes(url: str, accounts: Accounts, merchant_id: str, args: argparse.Namespace) -> list[ModeResult]:
    modes = {"batched": args.batch_size, "unbatched": 1}
    results = []
    for mode, batch_size in modes.items():
        if args.mode not in ("both", mode):
            continue
        result = await run_mode(url, accounts, merchant_id, args, mode, batch_size)
        print_mode(result)
        results.append(result)
    return results


# ---- what is printed ----


def print_setup(args: argparse.Namespace, accounts: Accounts, database: str, version: str) -> None:
    print(f"ledger benchmark: PostgreSQL {version}, {os.cpu_count()} CPUs, database {database}")
    print(f"  {ACCOUNTS_COUNT} {CURRENCY} accounts ({'/'.join(ACCOUNT_TYPES)}, guard none), the "
          f"{HOT_ACCOUNTS_COUNT} most popular with {args.hot_buckets} balance buckets, the others 1")
    print(f"  Zipf exponent {ZIPF_EXPONENT}: the top account gets {accounts.share(1):.1%} of picks, the top "
          f"{HOT_ACCOUNTS_COUNT} {accounts.share(HOT_ACCOUNTS_COUNT):.1%}, the top 100 {accounts.share(100):.1%}")
    print(f"  {args.writers} writers, {args.warmup_seconds:g} s warm-up + {args.duration_seconds:g} s measured per mode",
          flush=True)


def print_mode(result: ModeResult) -> None:
    figures = result.figures()
    mean_ms = "  ".join(f"{name} {value:.2f}" for name, value in figures["mean_ms"].items())
    print(f"\n{result.mode}: {result.writers} writers × {result.batch_size} transfer(s) per transaction")
    print(f"  transfers/s    {figures['transfers_per_second']:12.1f}")
    print(f"  transactions   {figures['transactions']:12d}   ({figures['transactions'] / result.seconds:.1f}/s)")
    print(f"  retries        {figures['retries']:12d}   (deadlocks, serialization failures; warm-up included)")
    print(f"  latency ms     p50 {figures['latency_p50_ms']}   p99 {figures['latency_p99_ms']}   (BEGIN to COMMIT)")
    print(f"  mean ms per transaction (wall, includes waiting for the other writers' Python): {mean_ms}")
    other = figures["other_cpu_percent_of_one_core"]
    print(f"  CPU per transfer: this process {figures['client_cpu_us_per_transfer']} µs, its PostgreSQL backends "
          f"{figures['backend_cpu_us_per_transfer']} µs; all {os.cpu_count()} CPUs "
          f"{figures['machine_cpu_busy_percent']}% busy; other processes {other}% of one core", flush=True)
    if other is not None and other > OTHER_CPU_PERCENT_WARNING:
        print(f"  WARNING: other processes used {other}% of one core during this mode: the figures are not clean",
              flush=True)


def print_summary(results: list[ModeResult]) -> None:
    print(f"\n{'mode':<10} {'writers':>7} {'batch':>6} {'transfers/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'retries':>8}")
    for result in results:
        figures = result.figures()
        print(f"{result.mode:<10} {result.writers:>7} {result.batch_size:>6} {figures['transfers_per_second']:>12.1f} "
              f"{figures['latency_p50_ms']!s:>8} {figures['latency_p99_ms']!s:>8} {figures['retries']:>8}")
    print(f"CPUs: {os.cpu_count()}")


def main() -> int:
    args = parse_args()
    accounts = Accounts.create(args.hot_buckets)
    name = create_database(args.server_url)
    url = database_url(args.server_url, name)
    try:
        merchant_id, version = create_books(url, accounts)
        print_setup(args, accounts, name, version)
        results = asyncio.run(run_modes(url, accounts, merchant_id, args))
        audit(url, sum(result.stats.transfers_committed for result in results))
    finally:
        if args.keep_database:
            print(f"kept database {name}")
        else:
            drop_database(args.server_url, name)
    print_summary(results)
    print(json.dumps({"cpu_count": os.cpu_count(), "postgres_version": version, "hot_buckets": args.hot_buckets,
                      "modes": [result.figures() for result in results]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
