"""Which declines another processor might approve (soft: the acquirer's or the issuer's
momentary trouble) and which no retry will change (hard: the card or the cardholder is the
problem). Soft declines may cascade to the next processor; hard ones never do, and neither
does an unknown outcome, which is resolved first (the sweeper), never retried elsewhere.

Codes are Stripe's decline codes, which every connector maps its processor's refusals to."""

from __future__ import annotations

import enum


class DeclineKind(enum.StrEnum):
    SOFT = "soft"
    HARD = "hard"


SOFT_DECLINES = frozenset({
    "do_not_honor", "processing_error", "issuer_not_available", "try_again_later", "reenter_transaction",
    "approve_with_id", "call_issuer", "generic_decline_processor", "service_not_allowed_processor",
})
HARD_DECLINES = frozenset({
    "lost_card", "stolen_card", "pickup_card", "restricted_card", "invalid_number", "incorrect_number",
    "invalid_account", "expired_card", "incorrect_cvc", "invalid_cvc", "fraudulent", "merchant_blacklist",
    "security_violation", "card_not_supported", "currency_not_supported", "invalid_expiry_month",
    "invalid_expiry_year", "insufficient_funds", "withdrawal_count_limit_exceeded", "card_velocity_exceeded",
    "transaction_not_allowed", "not_permitted", "revocation_of_authorization", "stop_payment_order",
    "generic_decline",
})


def classify(decline_code: str | None) -> DeclineKind:
    """Soft only for codes known to be momentary: anything unknown is hard, because retrying a
    decline on another processor costs the cardholder a second authorization attempt and the
    merchant its standing with the networks (retry rules)."""
    return DeclineKind.SOFT if decline_code in SOFT_DECLINES else DeclineKind.HARD
