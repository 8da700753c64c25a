"""Injected settlement faults (basketpay/sandboxes/settlement_faults), over HTTP in both
sandboxes: payments made through each sandbox's own API, faults set with
`POST /__sandbox/settlement_faults`, files written with `POST /__sandbox/settlement`.
Each fault changes only the line it picks, and every payout still pays exactly the sum
of its lines' nets, so the injected breaks are the only ones."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from basketpay.sandboxes.adyen_api import AdyenSandboxConfig
from basketpay.sandboxes.adyen_api.settlement import BATCH_EPOCH
from basketpay.sandboxes.stripe_api import StripeSandboxConfig
from tests.integration.sandboxes.stripe_server import raw_post
from tests.integration.sandboxes.stripe_server import running_sandbox as running_stripe
from tests.integration.sandboxes.test_adyen_sandbox import running_sandbox as running_adyen
from tests.integration.sandboxes.test_settlement import (
    adyen_amounts,
    adyen_modify,
    adyen_pay,
    minor,
    read_csv,
    stripe_intent,
    today,
)

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
Row = dict[str, str]
Normal = dict[str, Any]  # a line's row with amounts in minor units, without its id and per-payout cells


@dataclass
class Harness:
    """One sandbox behind a common face."""

    post: Callable[[str, bytes, dict[str, str]], httpx.Response]  # path, body, query
    read: Callable[[list[str]], list[Row]]  # a day's lines from its files, after checking the payouts
    normal: Callable[[Row], Normal]
    id_column: str
    new_id: str  # the pattern of a duplicate's line id
    booked_column: str  # the date a late line moves to
    picks: Callable[[Row, str, str], bool]  # does this row belong to (reference, operation)
    references: dict[str, str]  # operation -> the payment the cases name
    day: dt.date  # when the payments were made: a test that runs past midnight still reads their day

    def set_faults(self, faults: list[dict[str, Any]]) -> dict[str, Any]:
        response = self.post("/__sandbox/settlement_faults", json.dumps({"faults": faults}).encode(), {})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def paths(self, day: dt.date) -> list[str]:
        response = self.post("/__sandbox/settlement", b"", {"date": day.isoformat()})
        assert response.status_code == 200, response.text
        return list(response.json()["paths"])

    def lines(self, day: dt.date) -> dict[str, Normal]:
        rows = self.read(self.paths(day))
        assert len({row[self.id_column] for row in rows}) == len(rows), "line ids are unique"
        return {row[self.id_column]: self.normal(row) for row in rows}

    def picked(self, day: dt.date, reference: str, operation: str) -> str:
        """The id of the first line of (reference, operation): the one a fault picks."""
        return next(row[self.id_column] for row in self.read(self.paths(day)) if self.picks(row, reference, operation))


# --- Stripe ---------------------------------------------------------------------------------------------

def stripe_read(paths: list[str]) -> list[Row]:
    itemized_path, payouts_path = paths
    _, rows = read_csv(itemized_path)
    _, payouts = read_csv(payouts_path)
    assert {p["automatic_payout_id"] for p in payouts} == {r["automatic_payout_id"] for r in rows}
    for payout in payouts:
        mine = [r for r in rows if r["automatic_payout_id"] == payout["automatic_payout_id"]]
        currency = payout["currency"]
        assert {r["currency"] for r in mine} == {currency}
        for column in ("gross", "fee", "net"):
            assert minor(payout[column], currency) == sum(minor(r[column], currency) for r in mine), column
        assert int(payout["balance_transaction_count"]) == len(mine)
    for row in rows:
        assert minor(row["net"], row["currency"]) == minor(row["gross"], row["currency"]) - \
            minor(row["fee"], row["currency"])
    return rows


def stripe_normal(row: Row) -> Normal:
    per_payout = ("automatic_payout_id", "automatic_payout_effective_at", "balance_transaction_id")
    kept: Normal = {k: v for k, v in row.items() if k not in per_payout}
    effective = dt.datetime.strptime(row["automatic_payout_effective_at"], TIME_FORMAT).date()
    kept["payout_day"] = effective - dt.timedelta(days=1)  # a day is paid out at 00:00 the next day
    kept.update({column: minor(row[column], row["currency"]) for column in ("gross", "fee", "net")})
    return kept


@pytest.fixture(scope="module")
def stripe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    config = StripeSandboxConfig(settlement_dir=str(tmp_path_factory.mktemp("stripe")))
    with running_stripe(config) as base_url:
        auto = stripe_intent(base_url, 1000, "usd")
        manual = stripe_intent(base_url, 5000, "usd", manual=True)
        capture = f"/v1/payment_intents/{manual}/capture"
        assert raw_post(base_url, capture, {"amount_to_capture": "2000", "final_capture": "false"}).status_code == 200
        assert raw_post(base_url, capture, {"amount_to_capture": "1500"}).status_code == 200
        assert raw_post(base_url, "/v1/refunds", {"payment_intent": auto, "amount": "400"}).status_code == 200
        jpy = stripe_intent(base_url, 1000, "jpy")
        assert raw_post(base_url, "/v1/refunds", {"payment_intent": jpy}).status_code == 200

        def post(path: str, body: bytes, query: dict[str, str]) -> httpx.Response:
            return httpx.post(base_url + path, content=body, params=query)

        yield Harness(
            post=post, read=stripe_read, normal=stripe_normal, id_column="balance_transaction_id",
            new_id=r"txn_[0-9a-f]{24}", booked_column="available_on_utc",
            picks=lambda row, ref, op: (row["payment_intent_id"], row["reporting_category"]) == (ref, op),
            # The manual intent has two charge lines (two partial captures): a fault picks the first.
            references={"charge": manual, "refund": auto}, day=today(),
        )


# --- Adyen ----------------------------------------------------------------------------------------------

ADYEN_AMOUNT_COLUMNS = ("Gross Debit (GC)", "Gross Credit (GC)", "Net Debit (NC)", "Net Credit (NC)",
                        "Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)")


def adyen_read(paths: list[str]) -> list[Row]:
    [path] = paths
    _, rows = read_csv(path)
    lines = [r for r in rows if r["Type"] != "MerchantPayout"]
    payouts = [r for r in rows if r["Type"] == "MerchantPayout"]
    batches = {(r["Merchant Account"], r["Net Currency"]) for r in lines}
    assert sorted((p["Merchant Account"], p["Net Currency"]) for p in payouts) == sorted(batches)
    for payout in payouts:
        batch = [r for r in lines if (r["Merchant Account"], r["Net Currency"]) ==
                 (payout["Merchant Account"], payout["Net Currency"])]
        assert {r["Batch Number"] for r in batch} == {payout["Batch Number"]}
        assert -adyen_amounts(payout)[1] == sum(adyen_amounts(r)[1] for r in batch)
    for row in lines:
        gross, net, *fees = adyen_amounts(row)
        assert net == gross - sum(fees), row
    return lines


def adyen_normal(row: Row) -> Normal:
    per_payout = ("Batch Number", "Modification Reference", *ADYEN_AMOUNT_COLUMNS)
    kept: Normal = {k: v for k, v in row.items() if k not in per_payout}
    gross, net, commission, *other_fees = adyen_amounts(row)
    kept.update(gross=gross, net=net, commission=commission, fee=commission + sum(other_fees),
                payout_day=BATCH_EPOCH + dt.timedelta(days=int(row["Batch Number"])))
    return kept


@pytest.fixture(scope="module")
def adyen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with running_adyen(AdyenSandboxConfig(settlement_dir=str(tmp_path_factory.mktemp("adyen")))) as client:
        credit = adyen_pay(client, 10_000, "USD", manual=True)
        adyen_modify(client, credit, "captures", 6000)
        adyen_modify(client, credit, "captures", 4000)
        adyen_pay(client, 2000, "USD", number="4000056655665556")
        cancelled = adyen_pay(client, 3000, "USD", number="5555555555554444", manual=True)
        adyen_modify(client, cancelled, "cancels")  # a Fee row: no fault can pick it
        jpy = adyen_pay(client, 5000, "JPY")
        adyen_modify(client, jpy, "refunds", 1000, "JPY")

        def post(path: str, body: bytes, query: dict[str, str]) -> httpx.Response:
            return client.post(path, content=body, params=query)

        types = {"charge": "Settled", "refund": "Refunded"}
        yield Harness(
            post=post, read=adyen_read, normal=adyen_normal, id_column="Modification Reference",
            new_id=r"[0-9A-F]{16}", booked_column="Booking Date",
            picks=lambda row, ref, op: (row["Psp Reference"], row["Type"]) == (ref, types[op]),
            references={"charge": credit, "refund": jpy}, day=today(),  # credit: two captures; the first is picked
        )


@pytest.fixture(params=["stripe", "adyen"])
def sandbox(request: pytest.FixtureRequest) -> Iterator[Harness]:
    harness: Harness = request.getfixturevalue(request.param)
    harness.set_faults([])
    yield harness
    harness.set_faults([])


# --- Each kind ------------------------------------------------------------------------------------------

CASES = [
    ("drop", "charge", {}),
    ("amount", "charge", {"delta_minor": -250}),
    ("amount", "refund", {"delta_minor": 100}),
    ("duplicate", "charge", {}),
    ("duplicate", "refund", {}),
    ("fee", "charge", {"extra_fee_minor": 7}),
    ("fee", "refund", {"extra_fee_minor": 3}),
    ("late", "charge", {"days": 2}),
    ("late", "refund", {}),  # one day by default
]


def expected_today(baseline: dict[str, Normal], target: str, kind: str, parameters: dict[str, int]) -> dict[str, Normal]:
    expected = {line_id: dict(line) for line_id, line in baseline.items()}
    line = expected[target]
    if kind in ("drop", "late"):
        del expected[target]
    elif kind == "amount":
        line["gross"] += parameters["delta_minor"]
        line["net"] += parameters["delta_minor"]
    elif kind == "fee":
        extra = parameters["extra_fee_minor"]
        line.update(fee=line["fee"] + extra, net=line["net"] - extra)
        if "commission" in line:  # Adyen books an extra fee as Commission
            line["commission"] += extra
    return expected


def shifted(cell: str, days: int) -> str:
    return (dt.datetime.strptime(cell, TIME_FORMAT) + dt.timedelta(days=days)).strftime(TIME_FORMAT)


@pytest.mark.parametrize(("kind", "operation", "parameters"), CASES)
def test_a_fault_changes_only_the_line_it_picks(sandbox: Harness, kind: str, operation: str,
                                               parameters: dict[str, int]) -> None:
    day, reference = sandbox.day, sandbox.references[operation]
    baseline = sandbox.lines(day)
    target = sandbox.picked(day, reference, operation)
    fault = {"kind": kind, "reference": reference, "operation": operation, **parameters}
    echoed = sandbox.set_faults([fault])
    assert echoed == {"faults": [{**fault, **({"days": 1} if kind == "late" and not parameters else {})}]}
    found = sandbox.lines(day)
    expected = expected_today(baseline, target, kind, parameters)
    if kind == "duplicate":
        [copy] = set(found) - set(baseline)
        assert re.fullmatch(sandbox.new_id, copy), copy
        expected[copy] = baseline[target]
    assert found == expected
    if kind == "late":
        days = parameters.get("days", 1)
        later = day + dt.timedelta(days=days)
        moved = {**baseline[target], "payout_day": later}
        moved[sandbox.booked_column] = shifted(moved[sandbox.booked_column], days)
        assert sandbox.lines(later) == {target: moved}  # settled, and paid out, N days late
        between = [day + dt.timedelta(days=offset) for offset in range(1, days)]
        assert [sandbox.lines(other) for other in between] == [{} for _ in between]


def test_a_cleared_list_gives_the_journal_back(sandbox: Harness) -> None:
    day = sandbox.day
    baseline = sandbox.lines(day)
    sandbox.set_faults([{"kind": "drop", "reference": sandbox.references["charge"]}])
    assert sandbox.lines(day) != baseline
    assert sandbox.set_faults([]) == {"faults": []}
    assert sandbox.lines(day) == baseline


def test_faults_on_one_line_combine_and_others_change_nothing(sandbox: Harness) -> None:
    day, charge, refund = sandbox.day, sandbox.references["charge"], sandbox.references["refund"]
    baseline = sandbox.lines(day)
    target, dropped = sandbox.picked(day, charge, "charge"), sandbox.picked(day, refund, "refund")
    sandbox.set_faults([
        {"kind": "fee", "reference": charge, "extra_fee_minor": 5},
        {"kind": "duplicate", "reference": charge},
        {"kind": "amount", "reference": charge, "delta_minor": 20},
        {"kind": "drop", "reference": refund, "operation": "refund"},
        {"kind": "fee", "reference": refund, "operation": "refund", "extra_fee_minor": 1},  # dropped anyway
        {"kind": "drop", "reference": "no-such-payment"},
    ])
    found = sandbox.lines(day)
    expected = expected_today(baseline, target, "fee", {"extra_fee_minor": 5})
    expected = expected_today(expected, target, "amount", {"delta_minor": 20})
    del expected[dropped]
    [copy] = set(found) - set(baseline)
    expected[copy] = expected[target]  # the copy is of the altered line
    assert found == expected


def test_the_same_journal_and_faults_give_the_same_files(sandbox: Harness) -> None:
    sandbox.set_faults([{"kind": "duplicate", "reference": sandbox.references["charge"]}])
    first = [Path(path).read_bytes() for path in sandbox.paths(sandbox.day)]
    assert [Path(path).read_bytes() for path in sandbox.paths(sandbox.day)] == first


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "not JSON"),
    (b"[]", '{"faults": [...]}'),
    (b'{"faults": {}}', '{"faults": [...]}'),
    (b'{"faults": [], "seed": 1}', '{"faults": [...]}'),
    (b'{"faults": [{"kind": "vanish", "reference": "x"}]}', "faults[0]: must be an object with a kind"),
    (b'{"faults": [{"kind": "drop"}]}', "faults[0]: reference"),
    (b'{"faults": [{"kind": "drop", "reference": "x", "operation": "capture"}]}', "operation"),
    (b'{"faults": [{"kind": "drop", "reference": "x", "days": 2}]}', "unknown fields ['days']"),
    (b'{"faults": [{"kind": "amount", "reference": "x"}]}', "needs delta_minor"),
    (b'{"faults": [{"kind": "amount", "reference": "x", "delta_minor": 1.5}]}', "delta_minor must be"),
    (b'{"faults": [{"kind": "fee", "reference": "x", "extra_fee_minor": -1}]}', "extra_fee_minor must be"),
    (b'{"faults": [{"kind": "late", "reference": "x", "days": 0}]}', "days must be"),
])
def test_a_bad_list_is_refused_whole(sandbox: Harness, body: bytes, message: str) -> None:
    kept = sandbox.set_faults([{"kind": "drop", "reference": "kept"}])
    response = sandbox.post("/__sandbox/settlement_faults", body, {})
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert sandbox.post("/__sandbox/settlement_faults", b'{"faults": [{"kind": "drop", "reference": "kept"}]}',
                        {}).json() == kept
