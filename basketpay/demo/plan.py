"""The batch of payments to run: which scenario each one plays, in which currency, for how much.

The whole plan comes from one seed, so two runs of the same size send the same baskets
whatever the concurrency; each payment carries its own seed for the choices its scenario
makes later (how to split a capture, how much to refund).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

DEMO_SEED = 20_240_917

# Share of the batch per scenario, in percent (they sum to 100). Quotas, not draws: even a
# small batch gets each scenario in proportion.
SCENARIO_PERCENT = {
    "automatic": 35,
    "partial_captures": 20,
    "incremental": 10,
    "canceled": 10,
    "refunded": 10,
    "declined": 10,
    "retried": 5,
}

# A grocery basket's range in each currency's minor unit: 15.00–250.00 USD or EUR,
# ¥1,500–¥25,000 (JPY has no minor unit), 5.000–75.000 KWD (three decimals).
BASKET_MINOR_RANGE = {"usd": (1_500, 25_000), "eur": (1_500, 25_000), "jpy": (1_500, 25_000), "kwd": (5_000, 75_000)}
CURRENCY_PERCENT = {"usd": 70, "eur": 10, "jpy": 10, "kwd": 10}

SUCCEEDING_CARDS = ("4242424242424242", "5555555555554444")  # Visa, Mastercard
DECLINING_CARDS = (
    ("4000000000000002", "generic_decline"),
    ("4000000000009995", "insufficient_funds"),
    ("4000000000009987", "lost_card"),
    ("4000000000009979", "stolen_card"),
    ("4000000000000069", "expired_card"),
    ("4000000000000127", "incorrect_cvc"),
    ("4000000000000119", "processing_error"),
)


@dataclass(frozen=True, slots=True)
class PlannedPayment:
    index: int
    scenario: str
    amount: int
    currency: str
    card_number: str
    decline_code: str | None
    seed: int


def quotas(total: int, percent: dict[str, int]) -> list[str]:
    """`total` names in proportion to `percent` (largest remainder, so the counts sum to total)."""
    counts = {name: total * share // 100 for name, share in percent.items()}
    by_remainder = sorted(percent, key=lambda name: (total * percent[name]) % 100, reverse=True)
    for name in by_remainder[: total - sum(counts.values())]:
        counts[name] += 1
    return [name for name, count in counts.items() for _ in range(count)]


def build_plan(payments: int, seed: int = DEMO_SEED) -> list[PlannedPayment]:
    rng = random.Random(seed)
    scenarios = quotas(payments, SCENARIO_PERCENT)
    currencies = quotas(payments, CURRENCY_PERCENT)
    rng.shuffle(scenarios)
    rng.shuffle(currencies)
    plan: list[PlannedPayment] = []
    declines = 0
    for index, (scenario, currency) in enumerate(zip(scenarios, currencies, strict=True)):
        card_number, decline_code = rng.choice(SUCCEEDING_CARDS), None
        if scenario == "declined":
            # Round-robin, so a batch of 70 or more shows every decline code.
            card_number, decline_code = DECLINING_CARDS[declines % len(DECLINING_CARDS)]
            declines += 1
        low, high = BASKET_MINOR_RANGE[currency]
        amount = rng.randint(low, high)
        plan.append(PlannedPayment(index, scenario, amount, currency, card_number, decline_code, rng.getrandbits(64)))
    return plan
