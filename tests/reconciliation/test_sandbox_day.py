"""A sandbox day with injected discrepancies, for each processor: every injected
discrepancy is found and classified, nothing else is flagged, every batch's cents are
explained, and once the breaks are resolved the processor's clearing account is zero."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine

from basketpay.settings import Settings
from tests.reconciliation.sandbox_day import (
    Processor,
    breaks,
    clearing_balance,
    in_process,
    inject,
    pay,
    refund,
    settlement_files,
    start,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["stripe", "adyen"])
def processor(request: pytest.FixtureRequest, database_url: str, data_dir: Path) -> Iterator[Processor]:
    yield from start(request.param, database_url, data_dir)


def _day_of_payments(processor: Processor, secret_key: str) -> dict[str, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {secret_key}"}
    with httpx.Client(base_url=processor.server.base_url, headers=headers, timeout=30) as http:
        intents = {f"clean{i}": pay(http, 10_000 + 137 * i) for i in range(4)}
        intents["split"] = pay(http, 9_000, captures=[5_000, 4_000])
        refund(http, intents["clean0"], 1_500)
        for i, name in enumerate(("dropped", "changed", "doubled", "overcharged", "late")):
            intents[name] = pay(http, 20_000 + 100 * i)
    return intents


def _found(merchant_id: str, engine: Engine) -> set[tuple[str, str, str | None]]:
    return {(row.category, row.status, row.payment_intent_id) for row in breaks(engine, merchant_id)}


def _resolve(settings: Settings, merchant_id: str, engine: Engine, actions: dict[str, tuple[str, str | None]]) -> None:
    for row in breaks(engine, merchant_id):
        if row.status != "resolved":
            action, reason = actions[row.category]
            in_process(settings, lambda s, r=row, a=action, why=reason: s.resolve(merchant_id, r.id, a, why, "test"))


def test_a_day_with_injected_discrepancies(processor: Processor, engine: Engine, settings: Settings,
                                           merchant: tuple[str, str]) -> None:
    merchant_id = merchant[0]
    intents = _day_of_payments(processor, merchant[1])
    reference = {name: intent["processor_reference"] for name, intent in intents.items()}
    inject(processor, [{"kind": "drop", "reference": reference["dropped"]},
                       {"kind": "amount", "reference": reference["changed"], "delta_minor": -300},
                       {"kind": "duplicate", "reference": reference["doubled"]},
                       {"kind": "fee", "reference": reference["overcharged"], "extra_fee_minor": 25},
                       {"kind": "late", "reference": reference["late"], "days": 3}])
    today = dt.datetime.now(dt.UTC).date()
    files = settlement_files(processor, today)
    _, runs = in_process(settings, lambda s: s.reconcile_files(merchant_id, files, "cli"))
    assert len(runs) == 1
    summary = runs[0]
    ids = {name: intent["id"] for name, intent in intents.items()}
    assert _found(merchant_id, engine) == {
        ("missing_at_processor", "expected", ids["dropped"]), ("missing_at_processor", "expected", ids["late"]),
        ("amount_mismatch", "open", ids["changed"]), ("duplicate", "open", ids["doubled"]),
        ("fee_discrepancy", "open", ids["overcharged"])}
    by_category = {row.category: row for row in breaks(engine, merchant_id)}
    assert by_category["amount_mismatch"].difference == -300
    assert by_category["fee_discrepancy"].difference == -25
    # 4 clean + 2 partial captures + 1 refund + changed + doubled twice + overcharged = 11 lines, 9 clean matches
    assert (summary["lines"], summary["matched"]) == (11, 9)
    assert summary["batches"] and all(batch["unexplained"] == 0 for batch in summary["batches"])

    # Imported again: nothing changes.
    again, no_runs = in_process(settings, lambda s: s.reconcile_files(merchant_id, files, "api"))
    assert all(item.already_imported for item in again) and no_runs == []

    # The late line settles three days later: a timing break, and its "missing" break is settled.
    _, late_runs = in_process(settings, lambda s: s.reconcile_files(
        merchant_id, settlement_files(processor, today + dt.timedelta(days=3)), "scheduled"))
    assert late_runs[0]["lines"] == 1 and late_runs[0]["matched"] == 1
    found = {(row.category, row.status, row.resolution, row.payment_intent_id) for row in breaks(engine, merchant_id)}
    assert ("timing", "open", None, ids["late"]) in found
    assert ("missing_at_processor", "resolved", "settled", ids["late"]) in found

    _resolve(settings, merchant_id, engine, {
        "missing_at_processor": ("write_off", None), "amount_mismatch": ("accept", None),
        "duplicate": ("accept", "the processor paid it twice; claimed back separately"),
        "fee_discrepancy": ("accept", None), "timing": ("ignore", "settled three days late")})
    assert clearing_balance(engine, merchant_id, processor.name) == 0

