"""Processing fees the sandboxes charge, in integer minor units: Stripe's blended
rate and Adyen's interchange++ split (commission, markup, scheme fees, interchange).

Rounding: a percentage of an amount is rounded half-up on the minor unit
(0.5 cent -> 1 cent), in integer arithmetic, once per fee component, so each
component printed in a file is exactly the integer the sum is made of.

Fixed parts are in the payment currency's minor units whatever the currency (the
sandboxes keep no exchange rates): 30 means 0.30 USD and 30 JPY.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from basketpay.money import percent_of

__all__ = ["AdyenFeeSplit", "AdyenFees", "Rate", "StripeFees", "card_funding", "percent_of", "stripe_fee"]


# Test cards that are debit cards (Stripe's and Adyen's documented test numbers); every
# other card is treated as credit. The number is looked at once, at authorisation.
DEBIT_TEST_CARD_PREFIXES = ("4000056655665556", "5200828282828210", "4400000000000008", "5555444433331111")


def card_funding(card_number: str) -> str:
    return "debit" if card_number.startswith(DEBIT_TEST_CARD_PREFIXES) else "credit"


@dataclass(frozen=True, slots=True)
class Rate:
    bps: int = 0
    fixed_minor: int = 0

    def of(self, amount_minor: int) -> int:
        return percent_of(amount_minor, self.bps) + self.fixed_minor


@dataclass(frozen=True, slots=True)
class StripeFees:
    """Stripe's standard US card pricing: 2.9% + 30¢ per successful charge. Stripe keeps the
    fee when a charge is refunded, so a refund's fee is 0."""

    percent_bps: int = 290
    fixed_minor: int = 30


def stripe_fee(fees: StripeFees, captured_minor: int, first_capture: bool) -> int:
    # The fixed part is per charge: later partial captures of the same charge pay only the percentage.
    return percent_of(captured_minor, fees.percent_bps) + (fees.fixed_minor if first_capture else 0)


def _default_interchange() -> dict[tuple[str, str], Rate]:
    # Plausible US interchange: regulated (Durbin) debit is 0.05% + 21¢ + 1¢ fraud adjustment.
    return {
        ("visa", "credit"): Rate(180, 10),
        ("visa", "debit"): Rate(5, 22),
        ("mastercard", "credit"): Rate(189, 10),
        ("mastercard", "debit"): Rate(5, 22),
        ("amex", "credit"): Rate(250, 10),
    }


@dataclass(frozen=True, slots=True)
class AdyenFeeSplit:
    commission: int = 0
    markup: int = 0
    scheme_fees: int = 0
    interchange: int = 0

    @property
    def total(self) -> int:
        return self.commission + self.markup + self.scheme_fees + self.interchange


@dataclass(frozen=True, slots=True)
class AdyenFees:
    """Interchange++: the issuer's interchange and the scheme fee are passed through at cost;
    Adyen adds a fixed processing fee (Commission) and a percentage (Markup)."""

    interchange: Mapping[tuple[str, str], Rate] = field(default_factory=_default_interchange)
    interchange_other: Rate = Rate(200, 10)  # any (brand, funding) not in the table
    scheme_fee_bps: int = 13
    commission: Rate = Rate(0, 12)
    markup_bps: int = 60
    refund_commission_minor: int = 12  # Adyen charges for processing a refund
    modification_fee_minor: int = 2  # cancellations and authorisation adjustments, booked as Fee rows

    def sale(self, brand: str, funding: str, amount_minor: int) -> AdyenFeeSplit:
        interchange = self.interchange.get((brand, funding), self.interchange_other)
        return AdyenFeeSplit(
            commission=self.commission.of(amount_minor),
            markup=percent_of(amount_minor, self.markup_bps),
            scheme_fees=percent_of(amount_minor, self.scheme_fee_bps),
            interchange=interchange.of(amount_minor),
        )

    def refund(self) -> AdyenFeeSplit:
        return AdyenFeeSplit(commission=self.refund_commission_minor)

    def modification(self) -> AdyenFeeSplit:
        return AdyenFeeSplit(commission=self.modification_fee_minor)
