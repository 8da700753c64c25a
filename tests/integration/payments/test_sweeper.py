"""Unknown outcomes, in process: a reply lost after the processor acted, and a call that
never reached it. The connector seam wraps the real sandbox connector."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from basketpay.api.app import build_services
from basketpay.connectors.base import Connector
from basketpay.connectors.registry import ConnectorRegistry
from basketpay.payments.phases import RequestContext
from basketpay.payments.schemas import PaymentIntentConfirm, PaymentIntentCreate
from basketpay.payments.sweeper import Sweeper
from basketpay.settings import Settings
from tests.helpers import card


class LosingConnector:
    """Delegates to the real connector, but loses the reply of `authorize` (after or before)."""

    name = "sandbox"

    def __init__(self, real: Connector, *, reach_processor: bool) -> None:
        self._real = real
        self._reach_processor = reach_processor

    async def authorize(self, **kwargs: Any) -> Any:
        if self._reach_processor:
            await self._real.authorize(**kwargs)
        raise TimeoutError("reply lost")

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        return getattr(self._real, name)  # type: ignore[no-any-return]


async def confirm_in_flight(payments: Any, merchant_id: str, payment_method: str, key: str) -> tuple[str, Any]:
    """Create a manual-capture intent and confirm it through whatever connector `payments` has
    now; wait out the lease so the sweeper may take the attempt. Returns the intent id and the
    confirmation's response."""
    create = PaymentIntentCreate(amount=3100, currency="usd", capture_method="manual", payment_method=payment_method)
    context = RequestContext(merchant_id, None, "POST", "/v1/payment_intents", create.model_dump(mode="json"))
    intent_id = str(orjson.loads((await payments.create(context, create)).body)["id"])
    confirm = RequestContext(merchant_id, key, "POST", f"/v1/payment_intents/{intent_id}/confirm", {})
    response = await payments.confirm(confirm, intent_id, PaymentIntentConfirm())
    await asyncio.sleep(0.3)
    return intent_id, response


def run(settings: Settings, merchant_id: str, payment_method: str, *, reach_processor: bool) -> dict[str, Any]:
    async def scenario() -> dict[str, Any]:
        container = await build_services(replace_lease(settings))
        payments = container.payments
        real = payments.connectors.get("sandbox")
        payments.connectors = ConnectorRegistry(
            {"sandbox": LosingConnector(real, reach_processor=reach_processor)}, "sandbox"  # type: ignore[dict-item]
        )
        try:
            intent_id, first = await confirm_in_flight(payments, merchant_id, payment_method, "lost-reply")
            payments.connectors = ConnectorRegistry({"sandbox": real}, "sandbox")
            report = await Sweeper(payments).sweep_once()
            after = await payments.retrieve(merchant_id, intent_id)
            async with container.database.connection() as connection:
                charges = await (await connection.execute(
                    "SELECT count(*) AS n FROM sandbox_charges WHERE merchant_reference = %s", (intent_id,)
                )).fetchone()
                key_left = await (await connection.execute(
                    "SELECT count(*) AS n FROM idempotency_keys WHERE merchant_id = %s AND key = 'lost-reply'",
                    (merchant_id,),
                )).fetchone()
            return {"first": first, "report": report, "after": after, "charges": charges.n, "key_left": key_left.n}
        finally:
            await container.database.close()

    return asyncio.run(scenario())


def replace_lease(settings: Settings) -> Settings:
    return settings.model_copy(update={"idempotency_lease_seconds": 0.2})


@pytest.fixture()
def payment_method(client: Any) -> str:
    return card(client)


def test_a_lost_reply_is_resolved_from_the_processor(settings, merchant, payment_method) -> None:  # type: ignore[no-untyped-def]
    outcome = run(settings, merchant[0], payment_method, reach_processor=True)
    assert outcome["first"].status_code == 202  # unknown: the intent is still processing
    assert orjson.loads(outcome["first"].body)["status"] == "processing"
    assert outcome["report"].resolved == 1
    assert outcome["after"]["status"] == "requires_capture"
    assert outcome["charges"] == 1
    assert outcome["key_left"] == 1  # finished: a retry replays the resolved answer


def test_a_call_that_never_arrived_is_undone(settings, merchant, payment_method) -> None:  # type: ignore[no-untyped-def]
    outcome = run(settings, merchant[0], payment_method, reach_processor=False)
    assert outcome["first"].status_code == 202
    assert outcome["report"].not_processed == 1
    assert outcome["after"]["status"] == "requires_confirmation"
    assert outcome["charges"] == 0
    assert outcome["key_left"] == 0  # dropped: a retry with the key starts afresh


class SilentConnector(LosingConnector):
    """The processor never has an answer: every inquiry is UNKNOWN, and counted."""

    def __init__(self, real: Connector) -> None:
        super().__init__(real, reach_processor=True)
        self.inquiries = 0

    async def inquire(self, attempt: Any) -> Any:
        from basketpay.connectors.base import Outcome, ProcessorResult

        self.inquiries += 1
        return ProcessorResult(Outcome.UNKNOWN)


def test_unanswered_inquiries_back_off(settings, merchant, payment_method) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> tuple[int, int, Any]:
        container = await build_services(replace_lease(settings).model_copy(update={"inquiry_backoff_base_seconds": 60.0}))
        payments = container.payments
        silent = SilentConnector(payments.connectors.get("sandbox"))
        payments.connectors = ConnectorRegistry({"sandbox": silent}, "sandbox")  # type: ignore[dict-item]
        try:
            intent_id, _ = await confirm_in_flight(payments, merchant[0], payment_method, "silent")
            first = await Sweeper(payments).sweep_once()
            second = await Sweeper(payments).sweep_once()  # too early to ask again
            async with container.database.connection() as connection:
                row = await (await connection.execute(
                    "SELECT inquiries, next_inquiry_at - now() AS wait FROM payment_attempts WHERE payment_intent_id = %s",
                    (intent_id,))).fetchone()
            return first.still_unknown + second.still_unknown, silent.inquiries, row
        finally:
            await container.database.close()

    unknown, inquiries, row = asyncio.run(scenario())
    assert (unknown, inquiries) == (1, 1)
    assert row.inquiries == 1 and 40 < row.wait.total_seconds() < 80  # 60 s, give or take the jitter


def test_an_attempt_for_an_unknown_connector_does_not_stop_the_sweep(settings, merchant, payment_method) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> Any:
        container = await build_services(replace_lease(settings))
        payments = container.payments
        real = payments.connectors.get("sandbox")
        payments.connectors = ConnectorRegistry({"sandbox": LosingConnector(real, reach_processor=True)}, "sandbox")  # type: ignore[dict-item]
        try:
            await confirm_in_flight(payments, merchant[0], payment_method, "orphan")
            payments.connectors = ConnectorRegistry({}, "sandbox")  # this process no longer has the connector
            return await Sweeper(payments).sweep_once()
        finally:
            await container.database.close()

    report = asyncio.run(scenario())
    assert report.still_unknown >= 1  # reported and backed off, not a crashed sweep


def test_an_authorization_never_confirmed_is_cancelled_at_the_processor(settings, merchant, payment_method) -> None:  # type: ignore[no-untyped-def]
    cancel_after = {"unconfirmed_authorization_cancel_after_seconds": 0.5, "inquiry_backoff_base_seconds": 0.01}

    async def scenario() -> tuple[Any, Any, Any, Any]:
        container = await build_services(replace_lease(settings).model_copy(update=cancel_after))
        payments = container.payments
        silent = SilentConnector(payments.connectors.get("sandbox"))
        payments.connectors = ConnectorRegistry({"sandbox": silent}, "sandbox")  # type: ignore[dict-item]
        try:
            intent_id, _ = await confirm_in_flight(payments, merchant[0], payment_method, "never-confirmed")
            early = await Sweeper(payments).sweep_once()  # 0.3 s old: not given up on yet
            await asyncio.sleep(0.3)
            late = await Sweeper(payments).sweep_once()
            async with container.database.connection() as connection:
                charge = await (await connection.execute(
                    "SELECT status FROM sandbox_charges WHERE merchant_reference = %s", (intent_id,))).fetchone()
                key = await (await connection.execute(
                    "SELECT response_status FROM idempotency_keys WHERE merchant_id = %s AND key = 'never-confirmed'",
                    (merchant[0],))).fetchone()
            return early, late, await payments.retrieve(merchant[0], intent_id), (charge.status, key.response_status)
        finally:
            await container.database.close()

    early, late, after, (charge_status, response_code) = asyncio.run(scenario())
    assert (early.still_unknown, early.cancelled_unconfirmed) == (1, 0)
    assert late.cancelled_unconfirmed == 1
    assert charge_status == "voided"  # the authorization made at the processor holds nothing any more
    assert after["status"] == "requires_payment_method"
    assert after["last_payment_error"]["code"] == "authorization_unconfirmed"
    assert response_code == 402  # a retry with the key replays the failure
