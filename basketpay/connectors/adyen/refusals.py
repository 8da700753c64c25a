"""Adyen's answers to a refused card, by basketpay's (Stripe-style) decline code: resultCode,
refusalReason, refusalReasonCode and the raw acquirer response
(https://docs.adyen.com/development-resources/refusal-reasons). The connector reads it
backwards (refusal -> decline code); the Adyen sandbox reads it forwards."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AUTHORISED", "REFUSALS", "Outcome"]


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
