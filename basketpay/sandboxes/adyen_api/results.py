"""What a card number does at the Adyen sandbox: its decline code (a fixed test card's, or the
behaviour model's for every other card) looked up in Adyen's refusal table, which lives with
basketpay's Adyen connector (connectors/adyen/refusals.py) so both read one table."""

from __future__ import annotations

from basketpay.connectors.adyen.refusals import AUTHORISED, REFUSALS, Outcome
from basketpay.connectors.sandbox.cards import decline_for
from basketpay.sandboxes.behaviour import Behaviour, card_bin, has_fixed_outcome

__all__ = ["AUTHORISED", "EXPIRED", "REFUSALS", "Outcome", "outcome_for"]

EXPIRED = REFUSALS["expired_card"]


def outcome_for(card_number: str, expired: bool, behaviour: Behaviour) -> Outcome:
    decline = decline_for(card_number)
    if decline is not None:
        return REFUSALS[decline.decline_code]
    # A past expiry date is refused by the issuer, not rejected as invalid input, at Adyen.
    if expired or has_fixed_outcome(card_number):
        return EXPIRED if expired else AUTHORISED
    code = behaviour.decide(card_bin(card_number))
    return AUTHORISED if code is None else REFUSALS[code]
