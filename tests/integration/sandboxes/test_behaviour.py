"""The sandboxes' behaviour model: seeded approval and soft-decline rates for cards that are
not test cards, checked as a unit and over HTTP against both sandboxes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route

from basketpay.connectors.sandbox.cards import DECLINES
from basketpay.sandboxes.adyen_api import AdyenSandboxConfig
from basketpay.sandboxes.adyen_api import create_app as create_adyen_app
from basketpay.sandboxes.adyen_api.results import AUTHORISED, EXPIRED, REFUSALS, outcome_for
from basketpay.sandboxes.behaviour import (
    DECLINE_CODES,
    FIXED_APPROVALS,
    HARD_DECLINE_CODE,
    SOFT_DECLINE_CODES,
    Behaviour,
    InvalidBehaviour,
    attached_behaviour,
    behaviour_endpoint,
    card_bin,
    parse_settings,
    set_behaviour,
)
from basketpay.sandboxes.stripe_api import create_app as create_stripe_app
from basketpay.sandboxes.stripe_api.cards import BEHAVIOUR_DECLINES, decline_at_confirm, from_card_params, from_test_id
from basketpay.server import free_port
from tests.integration.sandboxes.stripe_server import running_sandbox

DRAWS = 5_000
TOLERANCE = 0.03  # over 5,000 draws one standard deviation is at most 0.007
ATTEMPTS_HTTP = 300
TOLERANCE_HTTP = 0.1  # over 300 attempts one standard deviation is at most 0.029
VISA_BIN = card_bin("4111111111111111")
NOW = 1_700_000_000


def behaviour(**raw: Any) -> Behaviour:
    return Behaviour(parse_settings({"seed": 7, **raw}))


def draw(model: Behaviour, bin_prefix: str = VISA_BIN, count: int = DRAWS) -> Counter[str | None]:
    return Counter(model.decide(bin_prefix) for _ in range(count))


def share(counts: Counter[str | None], *codes: str | None) -> float:
    return sum(counts[code] for code in codes) / sum(counts.values())


def test_by_default_every_card_is_approved() -> None:
    assert draw(Behaviour()) == Counter({None: DRAWS})


def test_approval_rate_gives_that_share_of_approvals_and_soft_declines_otherwise() -> None:
    counts = draw(behaviour(approval_rate=0.8))
    assert share(counts, None) == pytest.approx(0.8, abs=TOLERANCE)
    assert set(counts) - {None} == set(SOFT_DECLINE_CODES)
    for code in SOFT_DECLINE_CODES:  # the soft codes are drawn evenly
        assert share(counts, code) == pytest.approx(0.2 / len(SOFT_DECLINE_CODES), abs=TOLERANCE)


def test_the_longest_bin_prefix_sets_the_soft_decline_rate() -> None:
    model = behaviour(soft_decline_rates={"411111": 0.3, "4": 0.05})
    assert model.soft_decline_rate("41111111") == 0.3
    assert model.soft_decline_rate("42424242") == 0.05
    assert model.soft_decline_rate("55555555") == 0.0
    assert share(draw(model, "41111111"), None) == pytest.approx(0.7, abs=TOLERANCE)
    assert share(draw(model, "40000566"), None) == pytest.approx(0.95, abs=TOLERANCE)
    assert share(draw(model, "55555555"), None) == 1.0


def test_hard_declines_are_generic_and_rates_multiply() -> None:
    model = behaviour(approval_rate=0.9, hard_decline_rate=0.1, soft_decline_rates={"4": 0.3})
    counts = draw(model)
    assert share(counts, HARD_DECLINE_CODE) == pytest.approx(0.1, abs=TOLERANCE)
    assert share(counts, None) == pytest.approx(0.9 * 0.7 * 0.9, abs=TOLERANCE)
    assert share(counts, *SOFT_DECLINE_CODES) == pytest.approx(1 - 0.1 - 0.9 * 0.7 * 0.9, abs=TOLERANCE)


def test_only_the_configured_soft_codes_are_used() -> None:
    counts = draw(behaviour(approval_rate=0.5, soft_decline_codes=["try_again_later"]))
    assert set(counts) == {None, "try_again_later"}


def test_decisions_repeat_for_a_seed_and_differ_across_seeds() -> None:
    model, again = behaviour(approval_rate=0.5), behaviour(approval_rate=0.5)
    sequence = [model.decide(VISA_BIN) for _ in range(200)]
    assert sequence == [again.decide(VISA_BIN) for _ in range(200)]
    other = Behaviour(parse_settings({"seed": 8, "approval_rate": 0.5}))
    assert sequence != [other.decide(VISA_BIN) for _ in range(200)]
    model.configure(model.settings)  # new settings restart the sequence from their seed
    assert sequence == [model.decide(VISA_BIN) for _ in range(200)]


@pytest.mark.parametrize("raw", [
    {"approval_rate": 1.5}, {"approval_rate": True}, {"hard_decline_rate": "0.1"}, {"seed": 1.5},
    {"soft_decline_rates": {"41x": 0.1}}, {"soft_decline_rates": {"123456789": 0.1}},
    {"soft_decline_rates": {"4": -0.1}}, {"soft_decline_rates": [0.1]},
    {"soft_decline_codes": []}, {"soft_decline_codes": ["lost_card"]}, {"approval": 0.5},
])
def test_invalid_settings_are_rejected(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidBehaviour):
        parse_settings(raw)


def test_every_decline_code_has_a_stripe_and_an_adyen_answer() -> None:
    assert set(BEHAVIOUR_DECLINES) == set(DECLINE_CODES)
    assert set(DECLINE_CODES) <= set(REFUSALS)
    assert {BEHAVIOUR_DECLINES[code].decline_code for code in DECLINE_CODES} == set(DECLINE_CODES)
    assert all(REFUSALS[code].result_code in ("Refused", "Error") for code in DECLINE_CODES)


def test_test_cards_keep_their_fixed_outcome_when_nothing_is_approved() -> None:
    never = behaviour(approval_rate=0.0, hard_decline_rate=1.0)
    for number in FIXED_APPROVALS:
        assert outcome_for(number, False, never) == AUTHORISED
    for number, decline in DECLINES.items():
        assert outcome_for(number, False, never) == REFUSALS[decline.decline_code]
    assert outcome_for("4111111111111111", True, never) == EXPIRED
    assert outcome_for("4111111111111111", False, never) == REFUSALS[HARD_DECLINE_CODE]
    visa, declined = from_test_id("pm_card_visa", NOW), from_test_id("pm_card_chargeDeclined", NOW)
    assert visa is not None and declined is not None
    assert decline_at_confirm(visa, never) is None
    assert decline_at_confirm(declined, never) == DECLINES["4000000000000002"]
    card = {"number": "4111111111111111", "exp_month": "12", "exp_year": "2040"}
    other = from_card_params(card, "card", NOW)
    assert (other.card_bin, other.fixed_outcome) == ("41111111", False)
    assert decline_at_confirm(other, never) == BEHAVIOUR_DECLINES[HARD_DECLINE_CODE]


@dataclass
class Holder:
    config: object = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def test_a_store_gets_its_behaviour_from_its_config_and_set_behaviour_replaces_it() -> None:
    @dataclass(frozen=True)
    class Config:
        behaviour: dict[str, Any]

    holder = Holder(Config({"seed": 3, "approval_rate": 0.25}))
    assert attached_behaviour(holder).settings.approval_rate == 0.25
    assert attached_behaviour(holder) is attached_behaviour(holder)
    assert set_behaviour(holder, {"approval_rate": 0.5})["approval_rate"] == 0.5
    assert attached_behaviour(holder).settings.seed == 0  # whole settings, not a patch


def stripe_app_with_behaviour_endpoint() -> Starlette:
    app = create_stripe_app()
    # The one line the lead adds to the Stripe sandbox's create_app.
    app.router.routes.append(Route("/__sandbox/behaviour", behaviour_endpoint(app.state.sandbox.store),
                                   methods=["GET", "POST"]))
    return app


def test_stripe_sandbox_approves_the_configured_share_with_soft_declines() -> None:
    card = {"payment_method_data[type]": "card", "payment_method_data[card][number]": "4111111111111111",
            "payment_method_data[card][exp_month]": "12", "payment_method_data[card][exp_year]": "2040"}
    confirm = {"amount": "1000", "currency": "usd", "confirm": "true"}
    codes: Counter[str | None] = Counter()
    with running_sandbox(app=stripe_app_with_behaviour_endpoint()) as base_url, \
            httpx.Client(base_url=base_url, headers={"Authorization": "Bearer sk_test_123"}) as client:
        settings = client.post("/__sandbox/behaviour", json={"seed": 11, "approval_rate": 0.7})
        assert settings.status_code == 200 and client.get("/__sandbox/behaviour").json()["approval_rate"] == 0.7
        for _ in range(ATTEMPTS_HTTP):
            response = client.post("/v1/payment_intents", data={**confirm, **card})
            assert response.status_code in (200, 402), response.text
            error = response.json().get("error") if response.status_code == 402 else None
            codes[error["decline_code"] if error else None] += 1
        visa = client.post("/v1/payment_intents", data={**confirm, "payment_method": "pm_card_visa"})
        assert client.post("/__sandbox/behaviour", json={"approval_rate": 2}).status_code == 400
        assert client.post("/__sandbox/behaviour", content=b"[1]").status_code == 400
        assert client.post("/__sandbox/behaviour", content=b"{").status_code == 400
    assert share(codes, None) == pytest.approx(0.7, abs=TOLERANCE_HTTP)
    assert set(codes) - {None} <= set(SOFT_DECLINE_CODES) and len(codes) > 2
    assert visa.json()["status"] == "succeeded"


@dataclass(frozen=True, slots=True)
class AdyenConfigWithBehaviour(AdyenSandboxConfig):
    behaviour: dict[str, Any] | None = None  # what the lead adds to AdyenSandboxConfig


@contextmanager
def running_adyen(config: AdyenSandboxConfig) -> Iterator[httpx.Client]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_adyen_app(config), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10.0
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "sandbox did not start"
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": "k"}, timeout=5.0) as http:
            yield http
    finally:
        server.should_exit = True
        thread.join(timeout=10.0)


def adyen_payment(number: str) -> dict[str, Any]:
    return {"amount": {"value": 1000, "currency": "EUR"}, "reference": "order-1", "merchantAccount": "Basketpay",
            "paymentMethod": {"type": "scheme", "number": number, "expiryMonth": "03", "expiryYear": "2040",
                              "cvc": "737"},
            "shopperInteraction": "Ecommerce"}


def test_adyen_sandbox_authorises_the_configured_share_with_soft_refusals() -> None:
    config = AdyenConfigWithBehaviour(behaviour={"seed": 5, "approval_rate": 0.6})
    soft_reasons = {REFUSALS[code].refusal_reason for code in SOFT_DECLINE_CODES}
    results: Counter[str] = Counter()
    with running_adyen(config) as client:
        for _ in range(ATTEMPTS_HTTP):
            body = client.post("/v71/payments", json=adyen_payment("4111111111111111")).json()
            results[body["resultCode"]] += 1
            assert body["resultCode"] == "Authorised" or body["refusalReason"] in soft_reasons, body
        fixed = client.post("/v71/payments", json=adyen_payment("4242424242424242")).json()
    assert results["Authorised"] / ATTEMPTS_HTTP == pytest.approx(0.6, abs=TOLERANCE_HTTP)
    assert results["Refused"] > 0 and fixed["resultCode"] == "Authorised"
