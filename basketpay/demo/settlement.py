"""The demo's last step: the next morning's reconciliation. Card payments of the day go
through the Stripe connector to the Stripe-compatible sandbox (the demo merchant's routing
sends them there; with `--connector stripe` the whole batch already went), the sandbox
publishes the day's settlement files (itemized payout reconciliation and payouts), and the
demo uploads them through the API (`POST /v1/reconciliation/files`) and prints the runs'
reports. A clean day: every line matched, no break, nothing unexplained in any batch."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from basketpay.demo.client import DemoClient, ScenarioFailed, expect, expect_intent, expect_status, failure_reason
from basketpay.reconciliation.report import to_text

__all__ = ["SETTLED_PAYMENTS", "reconcile_the_day"]

SETTLED_PAYMENTS = 12  # card payments of the step: captured, two partly refunded
TIMEOUT_SECONDS = 60.0
_TO_STRIPE = {"config": {"processors": ["stripe"], "rules": [], "strategy": "rules_only"},
              "note": "demo: the day's card payments through the Stripe connector, for reconciliation"}


async def _pay(client: DemoClient, connector: str) -> None:
    """The step's payments: through Stripe (by routing, unless it is the default already)."""
    if connector != "stripe":
        expect_status(await client.post("/v1/routing/config", _TO_STRIPE))
    card = await client.card("4242424242424242")
    for index in range(SETTLED_PAYMENTS):
        intent = expect_intent(expect_status(await client.post("/v1/payment_intents", {
            "amount": 1_250 + 375 * index, "currency": "usd", "payment_method": card, "confirm": True})), "succeeded")
        expect(intent["connector"] == "stripe", f"{intent['id']}: went through {intent['connector']}, not stripe")
        if index % 6 == 5:
            expect_status(await client.post("/v1/refunds", {"payment_intent": intent["id"], "amount": 500}))


async def _settle(client: DemoClient, stripe_sandbox: str, connector: str) -> list[dict[str, Any]]:
    """Pay, have the sandbox publish today's files, upload them; the runs' summaries."""
    await _pay(client, connector)
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as sandbox:
        published = await sandbox.post(f"{stripe_sandbox}/__sandbox/settlement",
                                       params={"date": dt.datetime.now(dt.UTC).date().isoformat()})
    paths = [Path(path) for path in expect_status(published)["paths"]]
    return [run for path in paths
            for run in expect_status(await client.post_csv("/v1/reconciliation/files", path.name,
                                                           path.read_bytes()))["runs"]]


def _clean(summary: dict[str, Any]) -> bool:
    unexplained = any(batch["unexplained"] for batch in summary["batches"])
    return summary["match_rate"] == 1.0 and not summary["breaks"] and not unexplained


async def reconcile_the_day(client: DemoClient, stripe_sandbox: str, connector: str, console: Console) -> int:
    """Run the step and print its reports; the number of runs that were not clean."""
    try:
        with console.status("Reconciliation: the day's card payments through Stripe, then its settlement files…"):
            runs = await _settle(client, stripe_sandbox, connector)
    except (ScenarioFailed, httpx.HTTPError) as error:
        console.print(f"[red]Reconciliation failed:[/red] {failure_reason(error)}", highlight=False)
        return 1
    console.rule("Reconciliation: the Stripe sandbox's settlement files for today")
    for summary in runs[:-1]:  # the lines; then the payout, whose report shows each batch paid and cleared
        console.print(to_text(summary, width=console.width).split("\nBreaks")[0], highlight=False, soft_wrap=True)
    if runs:
        console.print(to_text(runs[-1], width=console.width), highlight=False, soft_wrap=True)
    unclean = sum(not _clean(summary) for summary in runs)
    verdict = "Every line matched; no break; every batch's clearing explained." if runs and not unclean else \
        f"{unclean} of {len(runs)} runs left breaks or unexplained cents (see above)."
    console.print(verdict)
    return unclean if runs else 1
