"""Test card numbers and the outcome each produces (the well-known Stripe test cards)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Decline:
    error_code: str
    decline_code: str
    message: str


DECLINES: dict[str, Decline] = {
    "4000000000000002": Decline("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": Decline(
        "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "4000000000009987": Decline("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": Decline("card_declined", "stolen_card", "Your card was declined."),
    "4000000000000069": Decline("expired_card", "expired_card", "Your card has expired."),
    "4000000000000127": Decline(
        "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."
    ),
    "4000000000000119": Decline(
        "processing_error", "processing_error", "An error occurred while processing your card."
    ),
}


# basketpay's own test card (not Stripe's): a card with a $50.00 limit. Authorizations up to
# 5,000 (minor units) succeed; one above it, or an increment past it, declines with
# insufficient_funds: how tests make an order's hold fail to grow.
LIMITED_CARD = "4000000000005001"
LIMITED_CARD_LIMIT = 5_000
OVER_LIMIT = Decline("card_declined", "insufficient_funds", "Your card has insufficient funds.")


def decline_for(card_number: str, amount: int = 0) -> Decline | None:
    if card_number == LIMITED_CARD and amount > LIMITED_CARD_LIMIT:
        return OVER_LIMIT
    return DECLINES.get(card_number)


def over_limit(last4: str, amount_total: int) -> bool:
    """An increment past the limited card's limit (the sandbox's charges keep the last 4 digits)."""
    return last4 == LIMITED_CARD[-4:] and amount_total > LIMITED_CARD_LIMIT
