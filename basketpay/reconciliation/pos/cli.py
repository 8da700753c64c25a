"""`basketpay pos-feed import FILE --merchant acct_…`: import a retailer's point-of-sale feed
and print its lines that did not match, then its summary."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from basketpay.settings import get_settings

pos_app = typer.Typer(no_args_is_help=True, help="Retailers' point-of-sale feeds.")
MISMATCHES_SHOWN_MAX = 1_000


async def _import(path: Path, merchant: str, window_hours: int) -> tuple[dict[str, Any], bool, list[Any]]:
    from basketpay.db.database import Database
    from basketpay.reconciliation.pos import feeds
    from basketpay.reconciliation.pos.importer import import_pos_feed
    from basketpay.reconciliation.pos.matching import STATUSES, MatchWindow

    database = await Database(get_settings()).open()
    try:
        with path.open(encoding="utf-8-sig", newline="") as lines:
            result = await import_pos_feed(database, merchant, path.name, lines, MatchWindow(window_hours * 3600))
        async with database.connection() as connection:
            rows, _ = await feeds.transactions(connection, merchant, result.feed["id"], after_line=0,
                                               limit=MISMATCHES_SHOWN_MAX, statuses=STATUSES[1:])
    finally:
        await database.close()
    return result.feed, result.created, rows


def _explained(detail: dict[str, Any], currency: str) -> str:
    from basketpay.money import format_major

    if "reason" in detail:
        return str(detail["reason"])
    return (f"expected {format_major(detail['expected_total'], currency)} "
            f"(tax {format_major(detail['expected_tax'], currency)}), "
            f"difference {format_major(detail['difference'], currency)}")


def _mismatches(rows: list[Any]) -> Table:
    from basketpay.money import format_major

    table = Table(title="lines that did not match (amounts in major units)")
    for column in ("line", "store", "time", "card", "total", "tax", "status", "order", "detail"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row.line), row.store, row.occurred_at.isoformat(), row.card_last4,
                      format_major(row.total, row.currency), format_major(row.tax, row.currency), row.status,
                      row.order_id or "", _explained(row.detail, row.currency))
    return table


FEED = typer.Argument(..., exists=True, dir_okay=False, help="The feed (CSV).")
MERCHANT = typer.Option(..., "--merchant", help="The merchant whose orders it is for (acct_…).")
WINDOW_HOURS = typer.Option(6, min=1, max=72, help="How long after an order's card authorization its purchase may be.")


@pos_app.command("import")
def pos_feed(path: Path = FEED, merchant: str = MERCHANT, window_hours: int = WINDOW_HOURS) -> None:
    """Match a feed's purchases to the orders' card authorizations; amounts are in minor units."""
    from basketpay.reconciliation.pos.parser import FileRejected

    try:
        feed, created, rows = asyncio.run(_import(path, merchant, window_hours))
    except FileRejected as error:
        typer.echo(f"{path}: rejected, nothing imported: {error}", err=True)
        raise typer.Exit(1) from None
    console = Console()
    if not created:
        console.print(f"{path.name}: this content was imported before, as {feed['id']}")
    if rows:
        console.print(_mismatches(rows))
    summary = feed["summary"]
    console.print(f"feed {feed['id']}: {summary['transactions']} purchases, {json.dumps(summary['counts'])}, "
                  f"match rate {summary['match_rate']}, "
                  f"{summary['orders_without_purchase_count']} orders without a purchase")
    console.print_json(json.dumps(summary))
