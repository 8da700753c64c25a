"""What a card number does at Adyen: the one table from the shared Stripe-style decline codes
(of the sandbox test cards and of the behaviour model, which answers for every other card)
to Adyen's resultCode, refusalReason and refusalReasonCode
(https://docs.adyen.com/development-resources/refusal-reasons)."""

from __future__ import annotations

from dataclasses import dataclass

from basketpay.connectors.sandbox.cards import decline_for
from basketpay.sandboxes.behaviour import Behaviour, card_bin, has_fixed_outcome


@dataclass(frozen=True, slots=True)
class Outcome:
    result_code: str  # "Authorised", "Refused" or "Error"
    refusal_reason: str | None = None
    refusal_reason_code: str | None = None
    # Adyen folds lost and stolen into "Blocked Card"; the raw acquirer response (Visa
    # codes 41/43) is what still tells them apart, so the sandbox returns it too.
    refusal_reason_raw: str | None = None

    @property
    def authorised(self) -> bool:
        return self.result_code == "Authorised"


AUTHORISED = Outcome("Authorised")

REFUSALS: dict[str, Outcome] = {
    "generic_decline": Outcome("Refused", "Refused", "2", "05 : Do not honor"),
    "insufficient_funds": Outcome("Refused", "Not enough balance", "12", "51 : Insufficient funds"),
    "lost_card": Outcome("Refused", "Blocked Card", "5", "41 : Lost card"),
    "stolen_card": Outcome("Refused", "Blocked Card", "5", "43 : Stolen card"),
    "expired_card": Outcome("Refused", "Expired Card", "6", "54 : Expired card"),
    "incorrect_cvc": Outcome("Refused", "CVC Declined", "24", "N7 : Decline for CVV2 failure"),
    "processing_error": Outcome("Error", "Acquirer Error", "4", "96 : System malfunction"),
    # Soft declines of the behaviour model: a retry, later or elsewhere, may be approved.
    "do_not_honor": Outcome("Refused", "Declined Non Generic", "27", "05 : Do not honor"),
    "try_again_later": Outcome("Refused", "Declined Non Generic", "27", "19 : Re-enter transaction"),
    "issuer_not_available": Outcome("Refused", "Issuer Unavailable", "9", "91 : Issuer or switch inoperative"),
}

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
