"""One strategy's run of `basketpay simulate routing`: the payments through the HTTP API with
at most `concurrency` in flight, the outage switched on and off at its boundaries, and each
answer recorded with the fee the authorizing processor charges for it."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field

import httpx
from rich.console import Console

from basketpay.demo.run import drain
from basketpay.routing.fees import FeeModel
from basketpay.routing.model import AttemptContext
from basketpay.routing.simulate_report import StrategyResult
from basketpay.routing.simulate_traffic import SimulatedPayment

__all__ = ["REQUEST_TIMEOUT_SECONDS", "Run", "drive"]

REQUEST_TIMEOUT_SECONDS = 30.0


@dataclass
class Run:
    """One strategy's run: where to send payments and what came back."""

    base_url: str
    secret_key: str
    faults_url: str
    outage: range
    fees: dict[str, FeeModel]
    result: StrategyResult
    # Held while the outage is switched: no later payment is sent before the switch is made.
    switching: asyncio.Lock = field(default_factory=asyncio.Lock)


async def drive(run: Run, payments: list[SimulatedPayment], concurrency: int, console: Console) -> float:
    """Every payment, in order, `concurrency` in flight (a progress bar on `console`); the seconds taken."""
    limits = httpx.Limits(max_connections=concurrency + 1, max_keepalive_connections=concurrency + 1)
    async with httpx.AsyncClient(limits=limits, timeout=REQUEST_TIMEOUT_SECONDS) as http:
        return await drain(payments, concurrency, lambda payment: _pay(http, run, payment), run.result.name,
                           lambda: run.result.errors, console)


async def _pay(http: httpx.AsyncClient, run: Run, payment: SimulatedPayment) -> None:
    """One payment, confirmed and captured at once. The payment at a boundary of the outage
    switches it before it is sent (payments still in flight meet the old state). A transport
    error counts as the payment's error, not the run's."""
    async with run.switching:
        if payment.index in (run.outage.start, run.outage.stop):
            (await http.post(run.faults_url, json={"outage": payment.index == run.outage.start})).raise_for_status()
    in_outage = payment.index in run.outage
    try:
        method = await _post(http, run, "/v1/payment_methods", {"type": "card", "card": {
            "number": payment.number, "exp_month": 12, "exp_year": 2031, "cvc": "1234" if payment.brand == "amex" else "123"}})
        intent = await _post(http, run, "/v1/payment_intents", {
            "amount": payment.amount, "currency": "usd", "payment_method": method.json()["id"], "confirm": True,
            "capture_method": "automatic"})
    except (httpx.HTTPError, KeyError, ValueError):
        run.result.record(0, in_outage)
        return
    if intent.status_code != 200:
        run.result.record(intent.status_code, in_outage)
        return
    processor = intent.json()["connector"]
    run.result.record(200, in_outage, payment.amount, processor, _fee(run.fees[processor], payment))


async def _post(http: httpx.AsyncClient, run: Run, path: str, body: dict[str, object]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {run.secret_key}", "Idempotency-Key": f"simulate-{uuid.uuid4().hex}"}
    return await http.post(run.base_url + path, json=body, headers=headers)


def _fee(model: FeeModel, payment: SimulatedPayment) -> int:
    return model.expected_fee(AttemptContext("simulate", payment.amount, "usd", brand=payment.brand,
                                             bin=payment.number[:8], issuing_country=payment.issuing_country,
                                             funding=payment.funding))
