"""`basketpay experiments report EXP --merchant ACCT`: an experiment's arms and test, as a table."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from basketpay.settings import get_settings

experiments_app = typer.Typer(no_args_is_help=True, help="Routing experiments.")


def _interval(estimate: dict[str, float] | None, percent: bool = True) -> str:
    if estimate is None:
        return "–"
    scale, unit = (100, "%") if percent else (1, "")
    return (f"{estimate['value'] * scale:.2f}{unit} "
            f"[{estimate['low'] * scale:.2f}–{estimate['high'] * scale:.2f}]")


def _arms_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"{report['name']} ({report['id']}, {report['status']}, planned "
                        f"{report['planned_sample_size']:,} per arm)")
    for column in ("arm", "share", "payments", "auth rate [95%]", "fees per $ authorized", "latency mean / p95 ms",
                   "retries", "stopped"):
        table.add_column(column)
    for arm in report["arms"]:
        figures = arm["report"]
        cost = figures["cost_per_authorized_amount"]
        table.add_row(arm["name"], f"{arm['share'] / 100:.0f}%", f"{figures['payments']:,}",
                      _interval(figures["authorization_rate"]), _interval(cost, percent=False),
                      f"{figures['latency_mean_ms'] or 0:.0f} / {figures['latency_p95_ms'] or 0:.0f}",
                      f"{figures['retries_per_payment'] or 0:.2f}", arm["stopped"] or "")
    return table


def _comparisons_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"against {report['control']}")
    for column in ("arm", "status", "difference [95%]", "z", "p-value"):
        table.add_column(column)
    for comparison in report["comparisons"]:
        test = comparison["test"] or {}
        table.add_row(comparison["arm"], comparison["status"], _interval(comparison["difference"]),
                      f"{test['z']:.2f}" if test else "–", f"{test['p_value']:.4f}" if test else "–")
    return table


@experiments_app.command("report")
def report_command(experiment_id: str, merchant: str = typer.Option(..., help="The merchant (acct_…)."),
                   as_json: bool = typer.Option(False, "--json", help="The report as JSON.")) -> None:
    """Per arm: payments, authorization rate, cost per authorized dollar, latency, retries; then
    each arm against the control (a verdict only once the planned sample size is reached)."""
    from basketpay.api.app import build_services, close_services
    from basketpay.routing.experiments.api import experiment_report

    async def main() -> dict[str, Any]:
        container = await build_services(get_settings())
        try:
            return experiment_report(*await container.experiments.get(merchant, experiment_id))
        finally:
            await close_services(container)

    report = asyncio.run(main())
    if as_json:
        typer.echo(json.dumps(report, default=str))
        return
    console = Console()
    console.print(_arms_table(report))
    console.print(_comparisons_table(report))
