"""Which processor a declined authorization goes on to (payments/phases.cascade_target), and
that the Adyen connector keeps a soft refusal's code so that it can."""

from __future__ import annotations

import time

import pytest

from basketpay.connectors.adyen.refusals import REFUSALS
from basketpay.connectors.adyen.transformers import decline_result
from basketpay.connectors.base import Outcome, ProcessorResult
from basketpay.payments.phases import cascade_target
from basketpay.routing.model import Candidate, Decision

ROUTING = Decision((Candidate("stripe", "cost"), Candidate("adyen", "cost"), Candidate("braintree", "unavailable")),
                   "cost", max_attempts=3, budget_ms=5_000)


def _declined(code: str) -> ProcessorResult:
    return ProcessorResult(Outcome.DECLINED, "ref", 100, "card_declined", code)


def test_a_soft_decline_goes_to_the_next_processor_but_not_to_an_open_breaker() -> None:
    started = time.monotonic()
    assert cascade_target(ROUTING, ["stripe"], _declined("do_not_honor"), started) == "adyen"
    assert cascade_target(ROUTING, ["stripe", "adyen"], _declined("do_not_honor"), started) is None


@pytest.mark.parametrize("result", [_declined("lost_card"), ProcessorResult(Outcome.UNKNOWN),
                                    ProcessorResult(Outcome.SUCCEEDED, "ref", 100)])
def test_hard_declines_unknown_outcomes_and_approvals_stop_there(result: ProcessorResult) -> None:
    assert cascade_target(ROUTING, ["stripe"], result, time.monotonic()) is None


def test_no_attempts_or_time_left_means_no_cascade() -> None:
    one = Decision(ROUTING.candidates, "cost", max_attempts=1, budget_ms=5_000)
    assert cascade_target(one, ["stripe"], _declined("do_not_honor"), time.monotonic()) is None
    assert cascade_target(ROUTING, ["stripe"], _declined("do_not_honor"), time.monotonic() - 6) is None
    assert cascade_target(None, ["stripe"], _declined("do_not_honor"), time.monotonic()) is None


@pytest.mark.parametrize("code", ["do_not_honor", "try_again_later", "issuer_not_available"])
def test_adyen_soft_refusals_keep_their_code(code: str) -> None:
    refusal = REFUSALS[code]
    result = decline_result(refusal.refusal_reason, refusal.refusal_reason_raw, "psp", 100)
    assert (result.outcome, result.decline_code) == (Outcome.DECLINED, code)
