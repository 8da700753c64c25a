"""How much to hold on the card for an order whose total is an estimate: the card's
share times a buffer (115% by default), rounded up to the next 5 major units ($5);
and when, as the basket changes, the hold must grow (incremental authorization)."""

from __future__ import annotations

from dataclasses import dataclass

from basketpay.invariant import invariant
from basketpay.money import currency_exponent


@dataclass(frozen=True, slots=True)
class HoldPolicy:
    buffer_percent: int = 115
    round_up_major: int = 5  # the hold is a multiple of this many major units
    increment_threshold_minor: int = 0  # grow the hold only when the share exceeds it by more than this

    def __post_init__(self) -> None:
        invariant(100 <= self.buffer_percent <= 200, "the buffer is between 100% and 200%")
        invariant(self.round_up_major >= 1 and self.increment_threshold_minor >= 0, "positive rounding")


def hold_amount(card_share: int, currency: str, policy: HoldPolicy) -> int:
    """0 for a card that pays nothing; else the buffered share rounded up to the increment."""
    invariant(card_share >= 0, "a card's share is not negative")
    if card_share == 0:
        return 0
    buffered = -(-card_share * policy.buffer_percent // 100)  # ceiling division
    step: int = policy.round_up_major * 10 ** currency_exponent(currency)
    return -(-buffered // step) * step


def grown_hold(card_share: int, held: int, currency: str, policy: HoldPolicy) -> int | None:
    """The new total to authorize when the card's share has outgrown the hold by more than the
    threshold; None when the hold still covers it (a smaller basket needs nothing until capture)."""
    if card_share <= held + policy.increment_threshold_minor:
        return None
    return max(hold_amount(card_share, currency, policy), held + 1)
