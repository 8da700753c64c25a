"""The Adyen connector against the Adyen sandbox over real HTTP: authorizations, sales,
test-card refusals, idempotent retries, modifications acknowledged as "received" (and
applied, as the sandbox's inspection endpoint shows), `inquire`, and every way of getting
no definitive answer."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from basketpay.connectors.adyen import AdyenConnector, transformers
from basketpay.connectors.base import AttemptView, Card, Connector, Outcome, ProcessorResult
from basketpay.connectors.sandbox.cards import DECLINES
from basketpay.ids import new_id
from basketpay.sandboxes.adyen_api import AdyenSandboxConfig, create_app
from basketpay.server import free_port

T = TypeVar("T")
TIMEOUT_MS = 5000
START_SECONDS_MAX = 5.0
MERCHANT = "BasketpayECOM"
VISA = Card("4242424242424242", 3, 2040, "737")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(AdyenSandboxConfig()), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS_MAX
    while not server.started:
        assert time.monotonic() < deadline, "sandbox did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join()


def run(base_url: str, scenario: Callable[[AdyenConnector], Awaitable[T]], api_key: str = "test-key",
        timeout_ms: int = TIMEOUT_MS, currency: str | None = "EUR") -> T:
    async def main() -> T:
        connector = AdyenConnector(base_url, api_key, MERCHANT, timeout_ms, currency=currency)
        try:
            return await scenario(connector)
        finally:
            await connector.aclose()
    return asyncio.run(main())


async def authorize(connector: AdyenConnector, amount: int = 5000, card: Card = VISA, capture: bool = False,
                    key: str | None = None) -> ProcessorResult:
    key = key or f"basketpay-{new_id('att')}"
    return await connector.authorize(idempotency_key=key, amount=amount, currency="eur", card=card,
                                     capture=capture, merchant_reference="pi_of_" + key)


def sandbox_payment(base_url: str, reference: str | None) -> Any:
    assert reference is not None
    response = httpx.get(f"{base_url}/__sandbox/payments/{reference}")
    assert response.status_code == 200, response.text
    return response.json()


def test_it_is_a_connector() -> None:
    connector: Connector = AdyenConnector("http://127.0.0.1:1", "key", MERCHANT, TIMEOUT_MS)
    assert connector.name == "adyen"


def test_authorize_manual_capture_holds_the_amount(base_url: str) -> None:
    key = f"basketpay-{new_id('att')}"
    result = run(base_url, lambda connector: authorize(connector, key=key))
    assert (result.outcome, result.amount) == (Outcome.SUCCEEDED, 5000)
    payment = sandbox_payment(base_url, result.processor_reference)
    assert (payment["merchantReference"], payment["currency"], payment["authorisedValue"]) == (key, "EUR", 5000)
    assert (payment["manualCapture"], payment["preAuth"], payment["capturedValue"]) == (True, True, 0)


def test_sale_captures_at_once(base_url: str) -> None:
    result = run(base_url, lambda connector: authorize(connector, 1200, capture=True))
    assert (result.outcome, result.amount) == (Outcome.SUCCEEDED, 1200)
    payment = sandbox_payment(base_url, result.processor_reference)
    assert (payment["manualCapture"], payment["capturedValue"]) == (False, 1200)


@pytest.mark.parametrize("number", list(DECLINES))
def test_test_cards_are_declined_with_basketpay_codes(base_url: str, number: str) -> None:
    result = run(base_url, lambda connector: authorize(connector, card=Card(number, 3, 2040, "737")))
    expected = DECLINES[number]
    assert (result.outcome, result.error_code, result.decline_code) == (
        Outcome.DECLINED, expected.error_code, expected.decline_code)
    assert result.processor_reference is not None and result.message == expected.message


def test_the_same_key_twice_is_one_payment(base_url: str) -> None:
    key = f"basketpay-{new_id('att')}"

    async def scenario(connector: AdyenConnector) -> tuple[ProcessorResult, ProcessorResult]:
        return await authorize(connector, key=key), await authorize(connector, key=key)

    first, second = run(base_url, scenario)
    assert first.outcome is Outcome.SUCCEEDED and first == second


def test_the_same_key_with_another_body_is_an_idempotency_error(base_url: str) -> None:
    key = f"basketpay-{new_id('att')}"

    async def scenario(connector: AdyenConnector) -> ProcessorResult:
        await authorize(connector, key=key)
        return await authorize(connector, 6000, key=key)

    result = run(base_url, scenario)
    assert (result.outcome, result.error_code) == (Outcome.UNKNOWN, "idempotency_error")  # never "not done"


ModifyCall = Callable[[AdyenConnector, str, str], Awaitable[ProcessorResult]]
MODIFICATIONS: dict[str, tuple[bool, ModifyCall, dict[str, Any]]] = {
    "capture": (False, lambda c, key, psp: c.capture(idempotency_key=key, processor_reference=psp, amount=2000,
                                                     final=False),
                {"capturedValue": 2000}),
    "void": (False, lambda c, key, psp: c.void(idempotency_key=key, processor_reference=psp), {"cancelled": True}),
    "refund": (True, lambda c, key, psp: c.refund(idempotency_key=key, processor_reference=psp, amount=700),
               {"refundedValue": 700}),
    "increment_authorization": (False, lambda c, key, psp: c.increment_authorization(
        idempotency_key=key, processor_reference=psp, amount_total=8000), {"authorisedValue": 8000}),
}


@pytest.mark.parametrize("operation", list(MODIFICATIONS))
def test_modifications_are_received_and_applied(base_url: str, operation: str) -> None:
    sale, call, expected = MODIFICATIONS[operation]
    key = f"basketpay-{new_id('att')}"

    async def scenario(connector: AdyenConnector) -> tuple[str, ProcessorResult]:
        psp = (await authorize(connector, capture=sale)).processor_reference or ""
        return psp, await call(connector, key, psp)

    psp, result = run(base_url, scenario)
    assert (result.outcome, result.message) == (Outcome.UNKNOWN, "received")
    assert result.processor_reference not in (None, psp)
    payment = sandbox_payment(base_url, psp)
    assert {name: payment[name] for name in expected} == expected
    [modification] = payment["modifications"]
    assert (modification["pspReference"], modification["reference"], modification["success"]) == (
        result.processor_reference, key, True)


def test_a_modification_without_a_currency_is_not_sent(base_url: str) -> None:
    async def scenario(connector: AdyenConnector) -> tuple[str, ProcessorResult]:
        psp = (await authorize(connector)).processor_reference or ""
        return psp, await connector.capture(idempotency_key=new_id("att"), processor_reference=psp, amount=100,
                                            final=True)

    psp, result = run(base_url, scenario, currency=None)
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "currency_required")
    assert sandbox_payment(base_url, psp)["modifications"] == []


def test_a_modification_of_an_unknown_payment_fails(base_url: str) -> None:
    result = run(base_url, lambda connector: connector.refund(
        idempotency_key=new_id("att"), processor_reference="NOSUCHPAYMENT000", amount=100, currency="EUR"))
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "adyen_167")


def attempt(operation: str, key: str, reference: str | None, amount: int = 2000) -> AttemptView:
    return AttemptView(processor_idempotency_key=key, operation=operation, amount=amount, currency="EUR",
                       processor_reference=reference, merchant_reference="pi_x")


@pytest.mark.parametrize("operation", ["authorize", "sale"])
def test_inquire_about_an_authorization_waits_for_its_webhook(base_url: str, operation: str) -> None:
    result = run(base_url, lambda connector: connector.inquire(attempt(operation, new_id("att"), None)))
    assert result is not None
    assert (result.outcome, result.message) == (Outcome.UNKNOWN, "awaiting AUTHORISATION notification")


def test_cancel_unconfirmed_is_a_technical_cancel_by_the_attempts_reference(base_url: str) -> None:
    key = f"basketpay-{new_id('att')}"

    async def scenario(connector: AdyenConnector) -> tuple[ProcessorResult, ProcessorResult]:
        authorized = await authorize(connector, key=key)
        return authorized, await connector.cancel_unconfirmed(attempt("authorize", key, None))

    authorized, cancelled = run(base_url, scenario)
    assert (cancelled.outcome, cancelled.message) == (Outcome.SUCCEEDED, "received")
    assert sandbox_payment(base_url, authorized.processor_reference)["cancelled"] is True


def test_cancel_unconfirmed_without_an_answer_is_unknown() -> None:
    result = run("http://127.0.0.1:1", lambda connector: connector.cancel_unconfirmed(attempt("authorize", "k", None)))
    assert result.outcome is Outcome.UNKNOWN


def test_inquire_about_a_capture_replays_it(base_url: str) -> None:
    key = f"basketpay-{new_id('att')}"

    async def scenario(connector: AdyenConnector) -> tuple[str, ProcessorResult, ProcessorResult | None]:
        psp = (await authorize(connector)).processor_reference or ""
        sent = await connector.capture(idempotency_key=key, processor_reference=psp, amount=2000, final=False,
                                       currency="EUR")
        return psp, sent, await connector.inquire(attempt("capture", key, psp))

    psp, sent, inquired = run(base_url, scenario, currency=None)  # inquire takes the attempt's currency
    assert inquired is not None and (inquired.outcome, inquired.processor_reference) == (
        Outcome.UNKNOWN, sent.processor_reference)
    assert len(sandbox_payment(base_url, psp)["modifications"]) == 1


def test_inquire_about_a_void_never_received_runs_it_once(base_url: str) -> None:
    key = f"basketpay-{new_id('att')}"

    async def scenario(connector: AdyenConnector) -> tuple[str, ProcessorResult | None]:
        psp = (await authorize(connector)).processor_reference or ""
        return psp, await connector.inquire(attempt("void", key, psp))

    psp, inquired = run(base_url, scenario)
    assert inquired is not None and (inquired.outcome, inquired.message) == (Outcome.UNKNOWN, "received")
    assert sandbox_payment(base_url, psp)["cancelled"] is True


def test_inquire_about_an_increment_never_received_runs_it_once(base_url: str) -> None:
    async def scenario(connector: AdyenConnector) -> tuple[str, ProcessorResult | None]:
        psp = (await authorize(connector)).processor_reference or ""
        return psp, await connector.inquire(attempt("increment_authorization", new_id("att"), psp, amount=9000))

    psp, inquired = run(base_url, scenario)
    assert inquired is not None and (inquired.outcome, inquired.message) == (Outcome.UNKNOWN, "received")
    assert sandbox_payment(base_url, psp)["authorisedValue"] == 9000


@pytest.mark.parametrize(("operation", "reference"), [("capture", None), ("settle", "PSP")])
def test_inquire_without_enough_to_re_send_is_unknown(operation: str, reference: str | None) -> None:
    result = run("http://127.0.0.1:1", lambda connector: connector.inquire(attempt(operation, "key", reference)))
    assert result is not None and result.outcome is Outcome.UNKNOWN


@pytest.mark.parametrize("body", [
    {"pspReference": "MOD", "status": "refused", "paymentPspReference": "PSP"},
    {"status": "received", "paymentPspReference": "PSP"},
    {"pspReference": "MOD", "status": "received", "paymentPspReference": "ANOTHER"},
])
def test_a_modification_answer_that_is_not_received_is_unknown_without_a_message(body: dict[str, Any]) -> None:
    result = transformers.modification(body, "captures", "PSP")
    assert result.outcome is Outcome.UNKNOWN and result.message != "received"


def test_inquire_after_an_idempotency_error_is_unknown(base_url: str) -> None:
    key = f"basketpay-{new_id('att')}"

    async def scenario(connector: AdyenConnector) -> ProcessorResult | None:
        psp = (await authorize(connector)).processor_reference or ""
        await connector.refund(idempotency_key=key, processor_reference=psp, amount=1)
        return await connector.inquire(attempt("refund", key, psp, amount=2))

    inquired = run(base_url, scenario)
    assert inquired is not None and inquired.outcome is Outcome.UNKNOWN


def test_an_empty_api_key_fails(base_url: str) -> None:
    result = run(base_url, authorize, api_key="")
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "processor_authentication_failed")


def test_an_invalid_card_fails_without_echoing_it(base_url: str) -> None:
    result = run(base_url, lambda connector: authorize(connector, card=Card("4242424242424241", 3, 2040, "737")))
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "adyen_101")
    assert "4242424242424241" not in repr(result)


def test_a_closed_port_is_unknown() -> None:
    result = run(f"http://127.0.0.1:{free_port()}", authorize)
    assert result.outcome is Outcome.UNKNOWN


def test_a_silent_server_is_unknown_within_the_timeout() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        started = time.monotonic()
        result = run(f"http://127.0.0.1:{listener.getsockname()[1]}", authorize, timeout_ms=200)
    assert result.outcome is Outcome.UNKNOWN and time.monotonic() - started < 2.0


def stub_server(status: int, body: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.mark.parametrize(("status", "body"), [
    (200, b"<html>not json</html>"), (200, b"[1, 2]"), (500, b'{"status": 500, "errorCode": "905"}'),
    (429, b"{}"), (503, b""), (422, b"not json"),
])
def test_no_definitive_answer_is_unknown(status: int, body: bytes) -> None:
    server = stub_server(status, body)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = run(f"http://127.0.0.1:{server.server_address[1]}", authorize)
    finally:
        server.shutdown()
        thread.join()
    assert result.outcome is Outcome.UNKNOWN


@pytest.mark.parametrize("result_code", ["Pending", "Received", "RedirectShopper", "IdentifyShopper",
                                         "ChallengeShopper", "Cancelled", None])
def test_any_other_result_code_is_unknown(result_code: str | None) -> None:
    body = {"pspReference": "PSP", "resultCode": result_code, "amount": {"value": 100, "currency": "EUR"}}
    assert transformers.authorization(body, 100, "EUR", "key").outcome is Outcome.UNKNOWN


@pytest.mark.parametrize("body", [
    {"pspReference": "PSP", "resultCode": "Authorised", "amount": {"value": 99, "currency": "EUR"}},  # partial
    {"pspReference": "PSP", "resultCode": "Authorised"},  # no amount: not known to be the whole amount
    {"pspReference": "PSP", "resultCode": "Authorised", "amount": {"value": 100, "currency": "EUR"},
     "merchantReference": "another-attempt"},
    {"pspReference": "PSP", "resultCode": "Refused", "amount": {"value": 100, "currency": "USD"}},
    {"resultCode": "Authorised", "amount": {"value": 100, "currency": "EUR"}},
])
def test_an_answer_about_something_else_is_unknown(body: dict[str, Any]) -> None:
    assert transformers.authorization(body, 100, "EUR", "key").outcome is Outcome.UNKNOWN


def test_a_refusal_without_an_amount_is_still_a_decline() -> None:
    body = {"pspReference": "PSP", "resultCode": "Refused", "refusalReason": "Not enough balance"}
    result = transformers.authorization(body, 100, "EUR", "key")
    assert (result.outcome, result.decline_code) == (Outcome.DECLINED, "insufficient_funds")


def test_blocked_card_without_a_known_raw_code_is_a_generic_decline() -> None:
    assert transformers.decline_code_for("Blocked Card", None) == "generic_decline"
    assert transformers.decline_code_for("Something new", "99 : New") == "generic_decline"


def test_card_numbers_never_reach_logs_or_results(base_url: str, caplog: pytest.LogCaptureFixture) -> None:
    numbers = [VISA.number, *DECLINES]

    async def scenario(connector: AdyenConnector) -> list[ProcessorResult]:
        return [await authorize(connector, card=Card(number, 3, 2040, "737")) for number in numbers]

    with caplog.at_level(logging.DEBUG):
        results = run(base_url, scenario)
        results.append(run(f"http://127.0.0.1:{free_port()}", authorize))
    logged = "\n".join(record.getMessage() for record in caplog.records) + repr(results)
    assert caplog.records  # httpx and httpcore did log at DEBUG
    assert not any(number in logged for number in numbers)
