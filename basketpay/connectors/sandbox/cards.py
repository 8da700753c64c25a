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


def decline_for(card_number: str) -> Decline | None:
    return DECLINES.get(card_number)
