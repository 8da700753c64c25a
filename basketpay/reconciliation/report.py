"""A run's summary (summary.py) as finance reads it: a table in the terminal, CSV for a
spreadsheet, and a self-contained HTML page. Amounts print in major units with the
currency's exponent (basketpay.money.format_major); nothing here touches the database.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from basketpay.money import format_major

__all__ = ["to_csv", "to_html", "to_text"]

_BREAK_HEAD = ("category", "status", "currency", "count", "amount", "difference")
_BATCH_HEAD = ("batch", "currency", "lines", "matched", "gross", "fees", "fees_posted", "paid", "awaiting_payout",
               "clearing_total", "unexplained")
_AGEING_HEAD = ("age", "currency", "count", "amount")
_MONEY = {"amount", "difference", "gross", "fees", "fees_posted", "paid", "awaiting_payout", "clearing", "clearing_total",
          "unexplained"}


def _cell(row: dict[str, Any], name: str) -> str:
    value = row[name]
    if name in _MONEY:
        return format_major(int(value), row["currency"])
    return str(value).replace("_", " ") if name in ("category", "status") else str(value)


def _sections(summary: dict[str, Any]) -> list[tuple[str, Sequence[str], list[dict[str, Any]]]]:
    return [("Breaks", _BREAK_HEAD, summary["breaks"]), ("Batches", _BATCH_HEAD, summary["batches"]),
            ("Unreconciled, by age", _AGEING_HEAD, summary["ageing"])]


def _headline(summary: dict[str, Any]) -> str:
    return (f"Run {summary['run_id']} · {summary['processor']} · as of {summary['as_of']} · "
            f"{summary['matched']}/{summary['lines']} lines matched ({summary['match_rate']:.2%}) · "
            f"files: {', '.join(summary['files'])}")


def to_text(summary: dict[str, Any], width: int = 140) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None)
    console.print(_headline(summary))
    for title, head, rows in _sections(summary):
        table = Table(title=title, title_justify="left")
        for name in head:
            table.add_column(name, justify="right" if name in _MONEY or name in ("count", "lines", "matched") else "left")
        for row in rows:
            table.add_row(*(_cell(row, name) for name in head))
        if not rows:
            table.add_row(*(["none"] + [""] * (len(head) - 1)))
        console.print(table)
    return buffer.getvalue()


def to_csv(summary: dict[str, Any], breaks: Iterable[dict[str, Any]]) -> str:
    """One CSV: the summary sections, then every break of the run (one per line)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["run_id", summary["run_id"], "processor", summary["processor"], "lines", summary["lines"],
                     "matched", summary["matched"], "match_rate", summary["match_rate"]])
    for title, head, rows in _sections(summary):
        writer.writerow([])
        writer.writerow([title])
        writer.writerow(head)
        writer.writerows([_cell(row, name) for name in head] for row in rows)
    writer.writerow([])
    writer.writerow(["Break details"])
    head = ("id", "category", "status", "currency", "amount", "difference", "batch", "attempt_id", "file_id", "line",
            "occurred_at", "resolution", "reason")
    writer.writerow(head)
    for item in breaks:
        writer.writerow([_cell(item, name) if name in _MONEY or name in ("category", "status") else item.get(name, "")
                         for name in head])
    return buffer.getvalue()


def _html_table(title: str, head: Sequence[str], rows: list[dict[str, Any]]) -> str:
    cells = "".join(f"<th>{html.escape(name.replace('_', ' '))}</th>" for name in head)
    body = "".join("<tr>" + "".join(f"<td class='{'n' if name in _MONEY else ''}'>{html.escape(_cell(row, name))}"
                                     "</td>" for name in head) + "</tr>" for row in rows) or \
        f"<tr><td colspan='{len(head)}'>None.</td></tr>"
    return f"<h2>{html.escape(title)}</h2><table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:"
          "1.5em}th,td{border:1px solid #ccc;padding:.3em .6em}th{background:#f3f3f3;text-align:left}"
          "td.n{text-align:right;font-variant-numeric:tabular-nums}.ok{color:#176f2c}.bad{color:#a11}")


def to_html(summary: dict[str, Any]) -> str:
    clean = all(batch["unexplained"] == 0 for batch in summary["batches"])
    verdict = ("<p class='ok'>Every cent of every batch is matched or named by a break.</p>" if clean else
               "<p class='bad'>Some batch has an unexplained difference: see Batches.</p>")
    tables = "".join(_html_table(title, head, rows) for title, head, rows in _sections(summary))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Reconciliation {html.escape(summary['run_id'])}"
            f"</title><style>{_STYLE}</style></head><body><h1>Reconciliation: {html.escape(summary['processor'])}</h1>"
            f"<p>{html.escape(_headline(summary))}</p>{verdict}{tables}</body></html>")
