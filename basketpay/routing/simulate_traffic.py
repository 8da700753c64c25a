"""The seeded traffic mix `basketpay simulate routing` drives: card payments by brand, funding
and issuing country, drawn from the BINs routing knows facts for (bins.py), so rules and
success-rate segments see what a deployment's BIN file would tell them. The same seed gives
the same cards and amounts in the same order, so every strategy meets identical traffic."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from basketpay.routing import bins
from basketpay.sandboxes.behaviour import has_fixed_outcome
from basketpay.vault.cards import card_brand, luhn_valid

__all__ = ["MIX", "SimulatedPayment", "card_number", "known_facts", "traffic"]

# BIN -> share of payments (percent). US credit and debit dominate, as at a US grocery
# marketplace; a sixth of the cards are foreign.
MIX: dict[str, int] = {
    "42424242": 28, "40000566": 12, "44000000": 8,  # visa: US credit, US debit
    "55555555": 14, "52008282": 6, "55554444": 4,  # mastercard: US credit, US debit
    "378282": 10,  # amex: US credit
    "40000012": 4, "40000082": 5, "40000025": 5, "40000027": 4,  # visa credit: CA, GB, FR, DE
}
AMOUNT_MINOR_MIN, AMOUNT_MINOR_MAX = 500, 30_000  # $5 to $300
AMOUNT_MEDIAN_MINOR = 4_500  # a grocery basket's card share
AMOUNT_SIGMA = 0.8  # of the log: most baskets $20-$100, a long tail towards $300


@dataclass(frozen=True, slots=True)
class SimulatedPayment:
    index: int
    number: str
    amount: int  # minor units, USD
    brand: str
    funding: str
    issuing_country: str


def card_number(prefix: str, rng: random.Random) -> str:
    """A card number on the BIN with a valid check digit and no fixed test outcome, so the
    sandboxes' behaviour models answer it (amex numbers have 15 digits, the others 16)."""
    length = 15 if card_brand(prefix) == "amex" else 16
    while True:
        body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
        number = next(body + digit for digit in "0123456789" if luhn_valid(body + digit))
        if not has_fixed_outcome(number):
            return number


def _amount(rng: random.Random) -> int:
    drawn = math.exp(math.log(AMOUNT_MEDIAN_MINOR) + AMOUNT_SIGMA * rng.gauss())
    return min(AMOUNT_MINOR_MAX, max(AMOUNT_MINOR_MIN, round(drawn)))


def traffic(count: int, seed: int) -> list[SimulatedPayment]:
    """`count` payments, a pure function of the seed."""
    rng = random.Random(seed)  # a simulation: reproducible draws are the point
    prefixes = rng.choices(list(MIX), weights=list(MIX.values()), k=count)
    payments = []
    for index, prefix in enumerate(prefixes):
        funding, country = known_facts(prefix)
        payments.append(SimulatedPayment(index, card_number(prefix, rng), _amount(rng), card_brand(prefix),
                                         funding, country))
    return payments


def known_facts(prefix: str) -> tuple[str, str]:
    """Funding and issuing country of a BIN in the mix: bins.py must know both, or rules and
    segments would see a different mix than the one described."""
    facts = bins.facts(prefix)
    if facts.funding is None or facts.issuing_country is None:
        raise ValueError(f"BIN {prefix} of the simulated mix is not in routing's BIN table")
    return facts.funding, facts.issuing_country
