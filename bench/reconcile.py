"""Reconciliation of a million settlement lines against a ledger holding their payments.

    .venv/bin/python bench/reconcile.py [--rows 1000000] [--processor stripe|adyen]

What one run does: creates a database of its own (`bp_bench_reconcile` on the server of
BASKETPAY_DATABASE_URL; it is required), migrates it, creates a merchant, and seeds
`--rows` captured payments as the payments core leaves them (intent, succeeded capture
attempt, capture entry in the ledger: processor clearing debited). It writes the
processor's settlement file for them (Stripe: itemized payout reconciliation + payouts;
Adyen: settlement details with a MerchantPayout per daily batch; fees per the price list).
Then, timed, in a child process: import the file(s) (stream → COPY) and reconcile (match,
classify, post fees and payouts, summarise). Prints the import and run seconds, lines/s,
the child's peak RSS, the match rate and the breaks found (expected: none), and last one
JSON object with every figure. Target: under 30 s with memory bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.reconcile_data import seed, write_files

DATABASE = "bp_bench_reconcile"
TARGET_SECONDS = 30.0


_RESET = ("DELETE FROM reconciliation_matches", "DELETE FROM reconciliation_breaks", "DELETE FROM reconciliation_runs",
          "DELETE FROM settlement_rows", "DELETE FROM settlement_files")


def _database_url(fresh: bool) -> str:
    server = os.environ.get("BASKETPAY_DATABASE_URL")
    if not server:
        sys.exit("set BASKETPAY_DATABASE_URL to a PostgreSQL server (the bench makes a database of its own there)")
    if fresh:
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            connection.execute(f"CREATE DATABASE {DATABASE}")
    from sqlalchemy.engine import make_url

    return make_url(server).set(database=DATABASE).render_as_string(hide_password=False)


def _reuse(url: str, processor: str, rows: int, directory: Path) -> tuple[str, list[Path]]:
    """The payments seeded by an earlier run of the same size and processor; only reconciliation's
    tables are emptied (the ledger is append-only: the earlier runs' fee and payout entries stay)."""
    with psycopg.connect(url, autocommit=True) as connection:
        seeded = connection.execute("SELECT merchant_id, connector FROM payment_attempts LIMIT 1").fetchone()
        count = connection.execute("SELECT count(*) FROM payment_attempts").fetchone()
        if seeded is None or count is None or count[0] != rows or seeded[1] != processor:
            sys.exit(f"--reuse: {DATABASE} does not hold {rows:,} payments seeded for {processor}; "
                     f"run once without --reuse")
        merchant_id = seeded
        for statement in _RESET:
            connection.execute(statement)
        connection.execute("VACUUM ANALYZE")
        connection.execute("CHECKPOINT")
    return str(merchant_id[0]), write_files(processor, directory, rows)


def _prepare(url: str, processor: str, rows: int, directory: Path) -> tuple[str, list[Path]]:
    from sqlalchemy import create_engine

    from basketpay.db.migrate import migrate
    from basketpay.merchants.service import create_merchant
    from basketpay.settings import Settings

    migrate(Settings(database_url=url))
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        merchant_id = create_merchant(connection, "bench-reconcile").merchant_id
    engine.dispose()
    started = time.perf_counter()
    seed(url, merchant_id, processor, rows)
    print(f"seeded {rows:,} payments in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    files = write_files(processor, directory, rows)
    print(f"wrote {', '.join(f'{p.name} ({p.stat().st_size / 1e6:.0f} MB)' for p in files)} in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    return merchant_id, files


def child(url: str, merchant_id: str, files: list[str]) -> None:
    """Timed: import, then run; prints one JSON line."""
    from basketpay.db.database import Database
    from basketpay.reconciliation.service import Reconciliation
    from basketpay.settings import Settings

    async def main() -> dict[str, Any]:
        settings = Settings(database_url=url)
        database = await Database(settings).open()
        service = Reconciliation(database, settings)
        started = time.perf_counter()
        imported = await service.import_files(merchant_id, [Path(f) for f in files], "cli")
        imported_at = time.perf_counter()
        summary = await service.run(merchant_id, imported[0].processor)
        finished = time.perf_counter()
        await database.close()
        assert summary is not None
        return {"import_s": imported_at - started, "run_s": finished - imported_at, "lines": summary["lines"],
                "matched": summary["matched"], "match_rate": summary["match_rate"], "breaks": summary["breaks"],
                "unexplained": sum(abs(batch["unexplained"]) for batch in summary["batches"]),
                "batches": len(summary["batches"])}

    print(json.dumps(asyncio.run(main())), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--processor", choices=("stripe", "adyen"), default="stripe")
    parser.add_argument("--reuse", action="store_true", help="keep the payments seeded by the last run (same size)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.child[2:])
        return
    url = _database_url(fresh=not args.reuse)
    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as directory:
        setup = _reuse if args.reuse else _prepare
        merchant_id, files = setup(url, args.processor, args.rows, Path(directory))
        started = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--child", url, merchant_id, *map(str, files)], check=True,
                             capture_output=True, text=True)
        total = time.perf_counter() - started
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    figures.update(processor=args.processor, rows=args.rows, total_s=round(total, 2), peak_rss_mb=round(peak_mb, 1),
                   lines_per_s=round(args.rows / (figures["import_s"] + figures["run_s"])))
    print(f"{args.processor}: {args.rows:,} lines: import {figures['import_s']:.1f} s + run {figures['run_s']:.1f} s "
          f"(child process {total:.1f} s incl. start-up; target < {TARGET_SECONDS:.0f} s), peak RSS {peak_mb:.0f} MB, "
          f"match rate {figures['match_rate']:.4f}, breaks {figures['breaks']}, unexplained {figures['unexplained']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
