"""The processors of `basketpay simulate routing` and the routing configurations it compares.

Two processors, each a real HTTP sandbox with a behaviour model, so each has its own approval
rates by BIN, and its own fee schedule, so that routing faces a real trade-off:

- stripe approves 92% of US cards, credit or debit, but only 84% of foreign ones, and costs
  2.9% + 30¢ on every card;
- adyen approves 88% of US credit, 95% of US debit and 91% of foreign cards, and costs
  interchange++ (≈ 2.5-3.2% + 22¢ on credit, 0.8% + 34¢ on regulated debit).

The in-process `sandbox` connector is left out: it has no behaviour model, so it would
approve every card of the mix for free and win every comparison it took part in.

The fee models given to routing are built from the sandboxes' own schedules (sandboxes/fees.py),
so the fees routing expects are the fees the simulation reports (to the cent, bar the per-
component rounding of Adyen's four fee lines)."""

from __future__ import annotations

from typing import Any

from basketpay.routing.simulate_traffic import MIX, known_facts
from basketpay.sandboxes.fees import AdyenFees, Rate, StripeFees

__all__ = ["BASELINE", "PROCESSORS", "behaviour", "fee_models", "routing_configs"]

HOME_COUNTRY = "US"  # where both processors acquire for the merchant
HARD_DECLINE_RATE = 0.03  # the issuer refuses whoever asks (drawn at each processor)
# processor -> approval share of (US credit, US debit, foreign) cards, hard declines included
PROCESSORS: dict[str, tuple[float, float, float]] = {"stripe": (0.92, 0.92, 0.84), "adyen": (0.88, 0.95, 0.91)}
BASELINE = "stripe only"
RETRY = {"max_attempts": 2, "budget_ms": 5_000}


def approval_share(processor: str, prefix: str) -> float:
    credit, debit, foreign = PROCESSORS[processor]
    funding, country = known_facts(prefix)
    return foreign if country != HOME_COUNTRY else debit if funding == "debit" else credit


def behaviour(processor: str, seed: int) -> dict[str, Any]:
    """The sandbox's `/__sandbox/behaviour` settings that give it its approval shares: the model
    approves `(1 - hard) × (1 - soft rate of the BIN)`, so each BIN's soft rate is solved for."""
    soft_rates = {prefix: 1 - approval_share(processor, prefix) / (1 - HARD_DECLINE_RATE) for prefix in MIX}
    return {"seed": seed, "approval_rate": 1.0, "hard_decline_rate": HARD_DECLINE_RATE,
            "soft_decline_rates": soft_rates}


def _adyen_rate(fees: AdyenFees, interchange: Rate) -> dict[str, int]:
    """Interchange++ folded into one rate: interchange, scheme fee, markup and commission."""
    percent_bps = interchange.bps + fees.scheme_fee_bps + fees.markup_bps + fees.commission.bps
    return {"percent_bps": percent_bps, "fixed_minor": interchange.fixed_minor + fees.commission.fixed_minor}


def fee_models() -> dict[str, dict[str, Any]]:
    """Routing fee models (routing/fees.py) of what the sandboxes charge for a sale."""
    stripe, adyen = StripeFees(), AdyenFees()
    overrides = [{"brand": brand, "funding": funding, **_adyen_rate(adyen, rate)}
                 for (brand, funding), rate in adyen.interchange.items()]
    return {"stripe": {"percent_bps": stripe.percent_bps, "fixed_minor": stripe.fixed_minor},
            "adyen": {**_adyen_rate(adyen, adyen.interchange_other), "overrides": overrides}}


def _rules() -> list[dict[str, Any]]:
    """What an operator who had read the approval reports would write: debit and foreign
    cards to adyen first, the rest (US credit) to stripe first."""
    foreign = sorted({known_facts(prefix)[1] for prefix in MIX} - {HOME_COUNTRY})
    return [{"id": "debit-to-adyen", "conditions": {"fundings": ["debit"]}, "processors": ["adyen", "stripe"]},
            {"id": "foreign-to-adyen", "conditions": {"issuing_countries": foreign}, "processors": ["adyen", "stripe"]}]


def routing_configs() -> dict[str, dict[str, Any]]:
    """Each strategy compared, by the name the report gives it, the baseline first."""
    fees = fee_models()
    both = {"processors": ["stripe", "adyen"], "fees": fees}
    return {
        BASELINE: {"processors": ["stripe"], "fees": {"stripe": fees["stripe"]}, "strategy": "rules_only"},
        "rules_only": {**both, "strategy": "rules_only", "rules": _rules()},
        "volume_split 50/50": {**both, "strategy": {"name": "volume_split", "weights": {"stripe": 1, "adyen": 1}}},
        "success_rate": {**both, "strategy": "success_rate"},
        "cost": {**both, "strategy": "cost"},
        "objective": {**both, "strategy": "objective"},
        "objective + retry": {**both, "strategy": "objective", "retry": RETRY},
    }
