from __future__ import annotations

import pytest

from basketpay.connectors.sandbox.cards import DECLINES
from basketpay.routing.declines import HARD_DECLINES, SOFT_DECLINES, DeclineKind, classify
from basketpay.sandboxes.behaviour import SOFT_DECLINE_CODES


def test_the_lists_do_not_overlap() -> None:
    assert not SOFT_DECLINES & HARD_DECLINES


@pytest.mark.parametrize("code", ["lost_card", "stolen_card", "expired_card", "incorrect_cvc", "fraudulent",
                                  "incorrect_number", "insufficient_funds", "generic_decline"])
def test_hard_declines_are_never_retried(code: str) -> None:
    assert classify(code) is DeclineKind.HARD


def test_the_sandboxes_soft_declines_are_soft_and_their_test_cards_hard_but_processing_error() -> None:
    assert all(classify(code) is DeclineKind.SOFT for code in SOFT_DECLINE_CODES)
    kinds = {decline.decline_code: classify(decline.decline_code) for decline in DECLINES.values()}
    assert {code for code, kind in kinds.items() if kind is DeclineKind.SOFT} == {"processing_error"}


def test_unknown_and_missing_codes_are_hard() -> None:
    assert classify("some_new_code") is DeclineKind.HARD
    assert classify(None) is DeclineKind.HARD
