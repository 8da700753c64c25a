"""Settlement files of both sandboxes, driven over HTTP: every capture and refund appears
once with its gross and fees, each row nets out, and each payout pays the day's net."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from basketpay.money import parse_major
from basketpay.sandboxes.adyen_api import AdyenSandboxConfig
from basketpay.sandboxes.stripe_api import StripeSandboxConfig, create_app
from basketpay.sandboxes.stripe_api.settlement import write_daily_files
from tests.integration.sandboxes.stripe_server import raw_post
from tests.integration.sandboxes.stripe_server import running_sandbox as running_stripe
from tests.integration.sandboxes.test_adyen_sandbox import MERCHANT, payment_body
from tests.integration.sandboxes.test_adyen_sandbox import running_sandbox as running_adyen

# Copied from DESIGN.md "Settlement files the reconciliation reads", on purpose not from the code.
STRIPE_DESIGN_COLUMNS = [
    "automatic_payout_id", "automatic_payout_effective_at", "balance_transaction_id", "created_utc",
    "available_on_utc", "currency", "gross", "fee", "net", "reporting_category", "source_id", "description",
    "charge_id", "payment_intent_id", "customer_id", "card_brand",
]
ADYEN_DESIGN_COLUMNS = [
    "Company Account", "Merchant Account", "Psp Reference", "Merchant Reference", "Payment Method",
    "Creation Date", "TimeZone", "Type", "Modification Reference", "Gross Currency", "Gross Debit (GC)",
    "Gross Credit (GC)", "Exchange Rate", "Net Currency", "Net Debit (NC)", "Net Credit (NC)", "Commission (NC)",
    "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)", "Payment Method Variant", "Batch Number",
    "Reserved4", "Reserved5", "Reserved6", "Reserved7", "Reserved8", "Reserved9", "Reserved10",
    "Modification Merchant Reference", "Booking Date", "Booking Date TimeZone",
]


def read_csv(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    with Path(path).open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        return list(reader.fieldnames or []), list(reader)


def minor(cell: str, currency: str) -> int:
    return parse_major(cell or "0", currency)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


# --- Stripe ---------------------------------------------------------------------------------------------

def stripe_intent(base_url: str, amount: int, currency: str, manual: bool = False, card: str = "pm_card_visa") -> str:
    data = {"amount": str(amount), "currency": currency, "payment_method": card, "confirm": "true",
            "capture_method": "manual" if manual else "automatic"}
    response = raw_post(base_url, "/v1/payment_intents", data)
    return str(response.json()["id"] if response.status_code == 200 else response.json()["error"]["payment_intent"]
               ["id"])


def stripe_activity(base_url: str) -> Counter[tuple[str, str, int, int]]:
    """Run the day's payments; return the (intent, category, gross, fee) rows they must produce."""
    auto_usd = stripe_intent(base_url, 1000, "usd")
    manual_usd = stripe_intent(base_url, 5000, "usd", manual=True)
    capture = f"/v1/payment_intents/{manual_usd}/capture"
    assert raw_post(base_url, capture, {"amount_to_capture": "2000", "final_capture": "false"}).status_code == 200
    assert raw_post(base_url, capture, {"amount_to_capture": "1500"}).status_code == 200
    assert raw_post(base_url, "/v1/refunds", {"payment_intent": auto_usd, "amount": "400"}).status_code == 200
    jpy = stripe_intent(base_url, 1000, "jpy")
    assert raw_post(base_url, "/v1/refunds", {"payment_intent": jpy}).status_code == 200
    stripe_intent(base_url, 700, "usd", card="pm_card_chargeDeclined")  # declined: moves no money
    return Counter([
        (auto_usd, "charge", 1000, 59),  # 2.9% of 10.00 = 0.29, + 0.30
        (manual_usd, "charge", 2000, 88),  # 0.58 + 0.30: the fixed fee once per charge
        (manual_usd, "charge", 1500, 44),  # 2.9% of 15.00 = 0.435, half-up to 0.44; no second fixed fee
        (auto_usd, "refund", -400, 0),  # Stripe keeps the fee of a refunded charge
        (jpy, "charge", 1000, 59),  # 29 yen + 30 yen
        (jpy, "refund", -1000, 0),
    ])


def test_stripe_daily_files(tmp_path: Path) -> None:
    app = create_app(StripeSandboxConfig(settlement_dir=str(tmp_path / "endpoint")))
    with running_stripe(app=app) as base_url:
        expected = stripe_activity(base_url)
        day = today()
        response = httpx.post(f"{base_url}/__sandbox/settlement", params={"date": day.isoformat()})
        assert response.status_code == 200, response.text
        itemized_path, payouts_path = response.json()["paths"]
    columns, rows = read_csv(itemized_path)
    assert columns[: len(STRIPE_DESIGN_COLUMNS)] == STRIPE_DESIGN_COLUMNS
    found = Counter((r["payment_intent_id"], r["reporting_category"], minor(r["gross"], r["currency"]),
                     minor(r["fee"], r["currency"])) for r in rows)
    assert found == expected
    assert len({r["balance_transaction_id"] for r in rows}) == len(rows)
    for row in rows:
        currency = row["currency"]
        assert minor(row["net"], currency) == minor(row["gross"], currency) - minor(row["fee"], currency)
        assert row["source_id"].startswith("ch_" if row["reporting_category"] == "charge" else "re_")
        assert row["charge_id"].startswith("ch_")
    assert [r["gross"] for r in rows if r["currency"] == "usd"] == ["10.00", "20.00", "15.00", "-4.00"]
    assert [r["gross"] for r in rows if r["currency"] == "jpy"] == ["1000", "-1000"]  # exponent 0
    _, payouts = read_csv(payouts_path)
    assert sorted(p["currency"] for p in payouts) == ["jpy", "usd"]
    for payout in payouts:
        currency = payout["currency"]
        mine = [r for r in rows if r["currency"] == currency]
        assert {r["automatic_payout_id"] for r in mine} == {payout["automatic_payout_id"]}
        assert payout["automatic_payout_id"].startswith("po_")
        assert minor(payout["net"], currency) == sum(minor(r["net"], currency) for r in mine)
    assert minor(next(p for p in payouts if p["currency"] == "usd")["net"], "usd") == 1000 + 2000 + 1500 - 400 - 191
    # The same ledger gives the same bytes; a day without activity is a header-only file.
    again = write_daily_files(app.state.sandbox.store, day, tmp_path / "again")
    assert [p.read_bytes() for p in again] == [Path(itemized_path).read_bytes(), Path(payouts_path).read_bytes()]
    quiet = write_daily_files(app.state.sandbox.store, day - dt.timedelta(days=1), tmp_path / "quiet")
    assert [len(p.read_text().splitlines()) for p in quiet] == [1, 1]


def test_stripe_settlement_endpoint_needs_a_directory_and_a_date(tmp_path: Path) -> None:
    with running_stripe(StripeSandboxConfig()) as base_url:
        assert httpx.post(f"{base_url}/__sandbox/settlement", params={"date": "2026-01-01"}).status_code == 400
    with running_stripe(StripeSandboxConfig(settlement_dir=str(tmp_path))) as base_url:
        assert httpx.post(f"{base_url}/__sandbox/settlement", params={"date": "yesterday"}).status_code == 400


# --- Adyen ----------------------------------------------------------------------------------------------

def adyen_pay(client: httpx.Client, value: int, currency: str, number: str = "4242424242424242",
              manual: bool = False) -> str:
    additional = {"manualCapture": "true"} if manual else {}
    body = payment_body(number=number, amount={"value": value, "currency": currency}, additionalData=additional)
    response = client.post("/v71/payments", json=body)
    assert response.status_code == 200 and response.json()["resultCode"] == "Authorised", response.text
    return str(response.json()["pspReference"])


def adyen_modify(client: httpx.Client, psp: str, kind: str, value: int | None = None, currency: str = "USD") -> None:
    body: dict[str, Any] = {"merchantAccount": MERCHANT, "reference": f"{kind}-{psp}"}
    if value is not None:
        body["amount"] = {"value": value, "currency": currency}
    response = client.post(f"/v71/payments/{psp}/{kind}", json=body)
    assert response.status_code == 201, response.text


Expected = Counter[tuple[str, str, str, int, int, int, int, int]]


def adyen_activity(client: httpx.Client) -> Expected:
    """(psp, type, variant, gross, commission, markup, scheme fees, interchange) per row, in minor units.
    Visa credit interchange 1.80% + 10, debit 0.05% + 22; scheme 0.13%; markup 0.60%; commission 12."""
    credit = adyen_pay(client, 10_000, "USD", manual=True)
    adyen_modify(client, credit, "captures", 6000)
    adyen_modify(client, credit, "captures", 4000)
    adyen_modify(client, credit, "refunds", 2500)
    adyen_modify(client, credit, "refunds", 99_999)  # refused: more than captured; moves nothing
    debit = adyen_pay(client, 2000, "USD", number="4000056655665556")
    cancelled = adyen_pay(client, 3000, "USD", number="5555555555554444", manual=True)
    adyen_modify(client, cancelled, "cancels")
    jpy = adyen_pay(client, 5000, "JPY")
    adyen_modify(client, jpy, "refunds", 1000, "JPY")
    return Counter([
        (credit, "Settled", "visacredit", 6000, 12, 36, 8, 118),  # scheme 7.8 -> 8
        (credit, "Settled", "visacredit", 4000, 12, 24, 5, 82),  # scheme 5.2 -> 5
        (credit, "Refunded", "visacredit", -2500, 12, 0, 0, 0),
        (debit, "Settled", "visadebit", 2000, 12, 12, 3, 23),  # scheme 2.6 -> 3; interchange 1 + 22
        (cancelled, "Fee", "mccredit", 0, 2, 0, 0, 0),
        (jpy, "Settled", "visacredit", 5000, 12, 30, 7, 100),  # scheme 6.5 yen, half-up to 7
        (jpy, "Refunded", "visacredit", -1000, 12, 0, 0, 0),
    ])


def adyen_amounts(row: dict[str, str]) -> tuple[int, int, int, int, int, int]:
    gross_currency, net_currency = row["Gross Currency"] or row["Net Currency"], row["Net Currency"]
    gross = minor(row["Gross Credit (GC)"], gross_currency) - minor(row["Gross Debit (GC)"], gross_currency)
    net = minor(row["Net Credit (NC)"], net_currency) - minor(row["Net Debit (NC)"], net_currency)
    fees = [minor(row[column], net_currency) for column in
            ("Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)")]
    return gross, net, fees[0], fees[1], fees[2], fees[3]


def test_adyen_daily_report(tmp_path: Path) -> None:
    with running_adyen(AdyenSandboxConfig(settlement_dir=str(tmp_path))) as client:
        expected = adyen_activity(client)
        day = today()
        response = client.post("/__sandbox/settlement", params={"date": day.isoformat()})
        assert response.status_code == 200, response.text
        [path] = response.json()["paths"]
        first = Path(path).read_bytes()
        assert client.post("/__sandbox/settlement", params={"date": day.isoformat()}).json()["paths"] == [path]
        assert Path(path).read_bytes() == first  # deterministic
        quiet = client.post("/__sandbox/settlement", params={"date": (day - dt.timedelta(days=1)).isoformat()})
        assert len(Path(quiet.json()["paths"][0]).read_text().splitlines()) == 1
    columns, rows = read_csv(path)
    assert columns == ADYEN_DESIGN_COLUMNS
    moves = [r for r in rows if r["Type"] != "MerchantPayout"]
    found: Expected = Counter()
    for row in moves:
        gross, net, commission, markup, scheme, interchange = adyen_amounts(row)
        assert net == gross - commission - markup - scheme - interchange, row
        found[(row["Psp Reference"], row["Type"], row["Payment Method Variant"], gross, commission, markup,
               scheme, interchange)] += 1
    assert found == expected
    payouts = [r for r in rows if r["Type"] == "MerchantPayout"]
    assert sorted(p["Net Currency"] for p in payouts) == ["JPY", "USD"]
    for payout in payouts:
        batch = [r for r in moves if r["Net Currency"] == payout["Net Currency"]]
        assert {r["Batch Number"] for r in batch} == {payout["Batch Number"]}
        assert -adyen_amounts(payout)[1] == sum(adyen_amounts(r)[1] for r in batch)
    jpy_settled = next(r for r in moves if r["Net Currency"] == "JPY" and r["Type"] == "Settled")
    assert (jpy_settled["Gross Credit (GC)"], jpy_settled["Net Credit (NC)"]) == ("5000", "4851")
