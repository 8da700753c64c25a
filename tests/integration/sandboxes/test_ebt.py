"""The SNAP EBT sandbox through basketpay's EBT client, over HTTP (`basketpay sim`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import httpx
import pytest

from basketpay.connectors.ebt import EbtClient, EbtDeclined, EbtUnavailable
from basketpay.connectors.ebt.client import EbtRejected
from basketpay.sandboxes.runner import SandboxProcesses

T = TypeVar("T")
CARD = "5077031234567890123"


@pytest.fixture(scope="module")
def ebt_url() -> Iterator[str]:
    processes = SandboxProcesses().start()
    yield processes.urls["ebt"]
    processes.stop()


def run(url: str, scenario: Callable[[EbtClient], Awaitable[T]]) -> T:
    async def main() -> T:
        client = EbtClient(url, "sk_ebt_test", timeout_ms=2000)
        try:
            return await scenario(client)
        finally:
            await client.close()
    return asyncio.run(main())


def set_balance(url: str, number: str, snap: int) -> None:
    httpx.post(url + "/__sandbox/balances", json={"card_number": number, "snap": snap}).raise_for_status()


def test_authorize_capture_less_and_refund_move_the_balance(ebt_url: str) -> None:
    set_balance(ebt_url, CARD, 10_000)

    async def scenario(client: EbtClient) -> list[int]:
        card = await client.tokenize(CARD)
        before = await client.balance(card, "pin_ok")
        payment = await client.authorize(idempotency_key="order-1-ebt-auth", payment_method=card, amount=6_000,
                                         pin_token="pin_ok", reference="order-1")
        held = await client.balance(card, "pin_ok")
        captured = await client.capture(idempotency_key="order-1-ebt-capture", payment_id=payment.id, amount=4_500)
        after_capture = await client.balance(card, "pin_ok")
        refunded = await client.refund(idempotency_key="order-1-ebt-refund-1", payment_id=payment.id, amount=500)
        return [before, held, captured.captured, after_capture, refunded.refunded, await client.balance(card, "pin_ok")]

    assert run(ebt_url, scenario) == [10_000, 4_000, 4_500, 5_500, 500, 6_000]


def test_declines_and_pins(ebt_url: str) -> None:
    set_balance(ebt_url, CARD, 100)

    async def scenario(client: EbtClient) -> list[str]:
        card = await client.tokenize(CARD)
        codes = []
        for amount, pin in ((101, "pin_ok"), (50, "pin_invalid")):
            try:
                await client.authorize(idempotency_key=f"k-{amount}-{pin}", payment_method=card, amount=amount,
                                       pin_token=pin, reference="r")
            except EbtDeclined as declined:
                codes.append(declined.code)
        try:
            await client.balance(card, "")
        except (EbtDeclined, EbtRejected) as refused:
            codes.append(refused.code)
        return codes

    assert run(ebt_url, scenario) == ["insufficient_balance", "invalid_pin", "invalid_pin"]


def test_a_retried_step_is_answered_from_the_processors_record(ebt_url: str) -> None:
    set_balance(ebt_url, CARD, 1_000)

    async def scenario(client: EbtClient) -> tuple[str, str, int]:
        card = await client.tokenize(CARD)
        first = await client.authorize(idempotency_key="wf-9-step-2", payment_method=card, amount=700,
                                       pin_token="pin_ok", reference="order-9")
        again = await client.authorize(idempotency_key="wf-9-step-2", payment_method=card, amount=700,
                                       pin_token="pin_ok", reference="order-9")
        return first.id, again.id, await client.balance(card, "pin_ok")

    first, again, balance = run(ebt_url, scenario)
    assert first == again and balance == 300  # authorized once


def test_faults_are_unavailable_not_final(ebt_url: str) -> None:
    httpx.post(ebt_url + "/__sandbox/faults", json={"error_rate": 1.0}).raise_for_status()
    try:
        with pytest.raises(EbtUnavailable):
            run(ebt_url, lambda client: client.tokenize(CARD))
    finally:
        httpx.post(ebt_url + "/__sandbox/faults", json={"error_rate": 0.0}).raise_for_status()
