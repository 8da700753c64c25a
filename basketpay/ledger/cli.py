"""`basketpay ledger …`: the integrity check, balances and account statements."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from typing import Any, TypeVar

import typer

from basketpay.settings import get_settings

T = TypeVar("T")
ledger_app = typer.Typer(no_args_is_help=True, help="The double-entry ledger.")


@ledger_app.command("check")
def check() -> None:
    """Verify every ledger invariant; exits 1 and prints the breaking rows if any fails."""
    from basketpay.db.engine import create_sync_engine
    from basketpay.ledger.check import check_ledger

    engine = create_sync_engine(get_settings())
    try:
        with engine.connect() as connection:
            report = check_ledger(connection)
    finally:
        engine.dispose()
    for name, count in report.counts.items():
        typer.echo(f"{'ok  ' if count == 0 else 'FAIL'} {name}" + (f" ({count})" if count else ""))
    if not report.ok:
        typer.echo(json.dumps(report.violations, default=str, indent=2), err=True)
        raise typer.Exit(1)


def _services_run(work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(ledger service)` against the configured database, then close it."""
    import asyncio

    from basketpay.api.app import build_services

    async def main() -> T:
        container = await build_services(get_settings())
        try:
            return await work(container.ledger)
        finally:
            await container.database.close()

    return asyncio.run(main())


def _when(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


MERCHANT = typer.Option(..., "--merchant", help="The merchant whose books to read (acct_…).")


@ledger_app.command("accounts")
def accounts(merchant: str = MERCHANT, code: str | None = typer.Option(None), limit: int = typer.Option(100)) -> None:
    """The merchant's ledger accounts with their balances, as a table."""
    from rich.console import Console
    from rich.table import Table

    from basketpay.db.pagination import PageRequest

    async def work(ledger: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        found, _ = await ledger.list_accounts(merchant, PageRequest(limit=limit), {"code": code} if code else {})
        return [(account, await ledger.balance(merchant, account["id"], None)) for account in found]

    table = Table("account", "code", "currency", "type", "posted", "pending", "available")
    for account, balance in _services_run(work):
        table.add_row(account["id"], account["code"], account["currency"], account["type"], str(balance["posted"]),
                      str(balance["pending"]), str(balance["available"]))
    Console().print(table)


@ledger_app.command("balance")
def balance(account: str, merchant: str = MERCHANT,
            as_of: str | None = typer.Option(None, help="ISO 8601 time; default now.")) -> None:
    """One account's posted, pending and available balance (minor units), as JSON."""
    typer.echo(json.dumps(_services_run(lambda ledger: ledger.balance(merchant, account, _when(as_of)))))


@ledger_app.command("entries")
def entries(merchant: str = MERCHANT, account: str | None = typer.Option(None),
            object_id: str | None = typer.Option(None), kind: str | None = typer.Option(None),
            limit: int = typer.Option(10, min=1, max=100), starting_after: str | None = typer.Option(None)) -> None:
    """Journal entries, newest first, one JSON object per line (page with --starting-after)."""
    from basketpay.db.pagination import PageRequest
    from basketpay.ledger.service import list_entries

    filters = {k: v for k, v in {"account": account, "object_id": object_id, "kind": kind}.items() if v}
    page = PageRequest(limit=limit, starting_after=starting_after)
    found, has_more = _services_run(lambda ledger: list_entries(ledger, merchant, filters, page))
    for entry in found:
        typer.echo(json.dumps(entry))
    if has_more:
        typer.echo(f"# more: --starting-after {found[-1]['id']}", err=True)


@ledger_app.command("statement")
def statement(account: str, merchant: str = MERCHANT, start: str = typer.Option(..., help="ISO 8601"),
              end: str = typer.Option(..., help="ISO 8601 (exclusive)"),
              output: str | None = typer.Option(None, help="CSV file; default stdout.")) -> None:
    """An account statement as CSV: postings between two times with a running balance."""
    import csv
    import sys

    from basketpay.ledger.service import statement_rows

    begin, finish = _when(start), _when(end)
    assert begin is not None and finish is not None
    lines = _services_run(lambda ledger: statement_rows(ledger, merchant, account, begin, finish))
    with open(output, "w", newline="") if output else nullcontext(sys.stdout) as sink:
        csv.writer(sink).writerows(lines)
