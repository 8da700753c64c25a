"""`basketpay ledger …`: the integrity check, balances and account statements."""

from __future__ import annotations

import json

import typer

from basketpay.settings import get_settings

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
