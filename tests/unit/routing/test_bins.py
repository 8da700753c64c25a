from __future__ import annotations

from basketpay.routing.bins import UNKNOWN, BinFacts, facts


def card_bin(number: str) -> str:
    return number[:8]


def test_test_cards_have_their_funding_and_country() -> None:
    assert facts(card_bin("4000056655665556")) == BinFacts("debit", "US")
    assert facts(card_bin("4242424242424242")) == BinFacts("credit", "US")
    assert facts(card_bin("4000002500000003")) == BinFacts("credit", "FR")
    assert facts("378282") == BinFacts("credit", "US")  # amex: 15 digits, a 6-digit BIN


def test_unknown_bins_say_nothing() -> None:
    assert facts("99999999") is UNKNOWN and facts(None) is UNKNOWN
