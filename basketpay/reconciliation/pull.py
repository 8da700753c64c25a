"""The daily pull: ask each configured sandbox processor for a day's settlement files
(`POST {base}/__sandbox/settlement?date=…`, which writes them into its settlement
directory and answers their paths), import them and reconcile.

Only the sandboxes publish files this way; a real Stripe account publishes the itemized
payout reconciliation through its Reporting API and Adyen its settlement details report
for download, and a connector for those downloads would slot in here (it is not built).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import structlog

from basketpay.reconciliation.service import Reconciliation
from basketpay.settings import Settings

__all__ = ["pull_day", "sandbox_bases"]

log = structlog.get_logger(__name__)
TIMEOUT_SECONDS = 60.0


def sandbox_bases(settings: Settings) -> dict[str, str]:
    """The configured processors' base addresses that are local sandboxes."""
    bases = {"stripe": settings.stripe_api_base if settings.stripe_secret_key is not None else None,
             "adyen": settings.adyen_api_base if settings.adyen_api_key is not None else None}
    return {name: base for name, base in bases.items()
            if base is not None and httpx.URL(base).host in ("127.0.0.1", "localhost", "::1")}


async def _published(client: httpx.AsyncClient, base: str, day: dt.date) -> list[Path]:
    answer = await client.post(f"{base.rstrip('/')}/__sandbox/settlement", params={"date": day.isoformat()})
    answer.raise_for_status()
    return [Path(path) for path in answer.json()["paths"]]


async def pull_day(service: Reconciliation, settings: Settings, merchant_id: str, day: dt.date) -> list[dict[str, Any]]:
    """Import and reconcile `day`'s files from every sandbox processor; the runs' summaries."""
    summaries: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        for processor, base in sorted(sandbox_bases(settings).items()):
            paths = await _published(client, base, day)
            names = [f"{processor}/{path.name}" for path in paths]
            _, runs = await service.reconcile_files(merchant_id, paths, "scheduled", names)
            log.info("settlement_pulled", processor=processor, day=str(day), files=len(paths), runs=len(runs))
            summaries += runs
    return summaries
