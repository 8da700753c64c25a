"""The demo's last step: the next morning's reconciliation. Card payments of the day go
through the Stripe connector to the Stripe-compatible sandbox (the demo merchant's routing
sends them there; with `--connector stripe` the whole batch already went), the sandbox
publishes the day's settlement files (itemized payout reconciliation and payouts), and the
demo uploads them through the API (`POST /v1/reconciliation/files`) and prints the runs'
reports. A clean day: every line matched, no break, nothing unexplained in any batch."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from basketpay.reconciliation.report import to_text

__all__ = ["SETTLED_PAYMENTS", "reconcile_the_day"]

SETTLED_PAYMENTS = 12  # card payments of the step: captured, two partly refunded
TIMEOUT_SECONDS = 60.0
_TO_STRIPE = {"config": {"processors": ["stripe"], "rules": [], "strategy": "rules_only"},
              "note": "demo: the day's card payments through the Stripe connector, for reconciliation"}


def _post(http: httpx.Client, path: str, body: dict[str, Any], key: bool = True) -> dict[str, Any]:
    headers = {"Idempotency-Key": f"demo-settle-{uuid.uuid4().hex}"} if key else {}
    response = http.post(path, json=body, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"POST {path}: HTTP {response.status_code}: {response.text[:200]}")
    result: dict[str, Any] = response.json()
    return result


def _pay(http: httpx.Client, connector: str) -> None:
    """The step's payments: through Stripe (by routing, unless it is the default already)."""
    if connector != "stripe":
        _post(http, "/v1/routing/config", _TO_STRIPE, key=False)
    card = _post(http, "/v1/payment_methods", {"type": "card", "card": {"number": "4242424242424242",
                                                                         "exp_month": 12, "exp_year": 2031, "cvc": "123"}})
    for index in range(SETTLED_PAYMENTS):
        intent = _post(http, "/v1/payment_intents", {"amount": 1_250 + 375 * index, "currency": "usd",
                                                     "payment_method": card["id"], "confirm": True})
        if intent["status"] != "succeeded" or intent["connector"] != "stripe":
            raise RuntimeError(f"payment {intent['id']}: {intent['status']} through {intent['connector']}")
        if index % 6 == 5:
            _post(http, "/v1/refunds", {"payment_intent": intent["id"], "amount": 500})


def _upload(http: httpx.Client, path: Path) -> list[dict[str, Any]]:
    response = http.post("/v1/reconciliation/files", params={"name": path.name}, content=path.read_bytes(),
                         headers={"Content-Type": "text/csv"})
    if response.status_code != 200:
        raise RuntimeError(f"uploading {path.name}: HTTP {response.status_code}: {response.text[:200]}")
    runs: list[dict[str, Any]] = response.json()["runs"]
    return runs


def _clean(summary: dict[str, Any]) -> bool:
    unexplained = any(batch["unexplained"] for batch in summary["batches"])
    return summary["match_rate"] == 1.0 and not summary["breaks"] and not unexplained


def reconcile_the_day(base_url: str, secret_key: str, stripe_sandbox: str, connector: str, console: Console) -> int:
    """Run the step and print its reports; the number of runs that were not clean."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {secret_key}"},
                      timeout=TIMEOUT_SECONDS) as http:
        with console.status("Reconciliation: the day's card payments through Stripe, then its settlement files…"):
            _pay(http, connector)
            published = httpx.post(f"{stripe_sandbox}/__sandbox/settlement",
                                   params={"date": dt.datetime.now(dt.UTC).date().isoformat()}, timeout=TIMEOUT_SECONDS)
            published.raise_for_status()
            runs = [run for path in map(Path, published.json()["paths"]) for run in _upload(http, path)]
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
