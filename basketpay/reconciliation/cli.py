"""`basketpay reconcile FILE…` (import and reconcile, print the report) and
`basketpay reconciliation …` (breaks, resolve, report of a run, the daily pull)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from basketpay.settings import get_settings

T = TypeVar("T")
reconciliation_app = typer.Typer(no_args_is_help=True, help="Reconciliation runs and their breaks.")
FORMATS = ("table", "csv", "html", "json")


def _with_service(work: Callable[[Any], Awaitable[T]]) -> T:
    from basketpay.db.migrate import migrate
    from basketpay.reconciliation.service import run_with

    settings = get_settings()
    migrate(settings)
    return run_with(settings, work)


def _breaks_as_dicts(rows: list[Any]) -> list[dict[str, Any]]:
    return [row._asdict() for row in rows]


def _emit(summary: dict[str, Any], breaks: list[dict[str, Any]], output: str, out: Path | None) -> None:
    from basketpay.reconciliation import report

    if output not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    text = {"table": lambda: report.to_text(summary), "csv": lambda: report.to_csv(summary, breaks),
            "html": lambda: report.to_html(summary), "json": lambda: json.dumps(summary, indent=2)}[output]()
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


Files = Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="Settlement files (any known format).")]
Merchant = Annotated[str, typer.Option(help="The merchant (mer_…) whose processor accounts the files are from.")]
Output = Annotated[str, typer.Option("--format", help="table, csv, html or json")]
Out = Annotated[Path | None, typer.Option(help="Write the report here instead of printing it.")]


def reconcile(files: Files, merchant: Merchant, output: Output = "table", out: Out = None) -> None:
    """Import settlement files (each once: a file imported before changes nothing), reconcile
    them against basketpay's attempts and ledger, and print the report of each run."""
    from basketpay.reconciliation.formats.rows import FileRejected

    async def work(service: Any) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        _, summaries = await service.reconcile_files(merchant, files, "cli")
        return [(s, _breaks_as_dicts(await service.breaks(merchant, run_id=s["run_id"], limit=10_000)))
                for s in summaries]

    try:
        results = _with_service(work)
    except FileRejected as error:
        typer.echo(f"rejected, nothing imported: {error}", err=True)
        raise typer.Exit(1) from None
    if not results:
        typer.echo("nothing new to reconcile: every file was imported before")
    for summary, breaks in results:
        _emit(summary, breaks, output, out)


@reconciliation_app.command("report")
def run_report(run_id: str, merchant: Merchant, output: Output = "table", out: Out = None) -> None:
    """The report of an earlier run."""
    async def work(service: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        run = await service.get_run(merchant, run_id)
        return run.summary, _breaks_as_dicts(await service.breaks(merchant, run_id=run_id, limit=10_000))

    summary, breaks = _with_service(work)
    _emit(summary, breaks, output, out)


@reconciliation_app.command("breaks")
def list_breaks(merchant: str = typer.Option(...), status: str | None = typer.Option("unresolved"),
                run: str | None = typer.Option(None), limit: int = typer.Option(100)) -> None:
    """Breaks as JSON lines (unresolved ones by default)."""
    rows = _with_service(lambda service: service.breaks(merchant, run_id=run, status=status, limit=limit))
    for row in rows:
        typer.echo(json.dumps(row._asdict(), default=str))


@reconciliation_app.command("resolve")
def resolve(break_id: str, merchant: str = typer.Option(...),
            action: str = typer.Option(..., help="accept, write_off or ignore"),
            reason: str | None = typer.Option(None), actor: str = typer.Option("cli")) -> None:
    """Resolve a break (posting its adjusting entry unless ignored); the audit log records it."""
    row = _with_service(lambda service: service.resolve(merchant, break_id, action, reason, f"cli:{actor}"))
    typer.echo(json.dumps(row._asdict(), default=str))


@reconciliation_app.command("pull")
def pull(merchant: str = typer.Option(...), day: str = typer.Option(None, help="YYYY-MM-DD (default: yesterday)")) -> None:
    """Pull one day's files from each sandbox processor and reconcile them (what the daily
    scheduled workflow does)."""
    from basketpay.reconciliation.pull import pull_day

    when = dt.date.fromisoformat(day) if day else dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    summaries = _with_service(lambda service: pull_day(service, get_settings(), merchant, when))
    for summary in summaries:
        _emit(summary, [], "table", None)
