"""The fault list of `POST /__sandbox/settlement_faults`, parsed and bounded: a bad
list is refused whole, with a message that says which fault and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "OPERATIONS", "InvalidSettlementFaults", "SettlementFault", "parse_faults"]

KINDS = ("drop", "amount", "duplicate", "fee", "late")
OPERATIONS = ("charge", "refund")
FAULTS_MAX = 1_000
DAYS_LATE_MAX = 31
REFERENCE_LENGTH_MAX = 64  # Stripe ids are ~27 characters, Adyen PSP references 16
AMOUNT_MINOR_MAX = 10**12  # bound on delta_minor and extra_fee_minor
# kind -> its parameters and their defaults (None: required)
PARAMETERS: dict[str, dict[str, int | None]] = {
    "drop": {}, "duplicate": {}, "amount": {"delta_minor": None}, "fee": {"extra_fee_minor": None}, "late": {"days": 1},
}
BOUNDS = {"delta_minor": (-AMOUNT_MINOR_MAX, AMOUNT_MINOR_MAX), "extra_fee_minor": (1, AMOUNT_MINOR_MAX),
          "days": (1, DAYS_LATE_MAX)}


class InvalidSettlementFaults(ValueError):
    """A fault list that cannot be applied; the message says which fault and why."""


@dataclass(frozen=True, slots=True)
class SettlementFault:
    kind: str
    reference: str
    operation: str = "charge"
    delta_minor: int = 0
    extra_fee_minor: int = 0
    days: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "reference": self.reference, "operation": self.operation,
                **{name: getattr(self, name) for name in PARAMETERS[self.kind]}}


def _parameter(raw: Mapping[str, Any], name: str, default: int | None, where: str) -> int:
    value, (low, high) = raw.get(name, default), BOUNDS[name]
    if value is None:
        raise InvalidSettlementFaults(f"{where}: kind {raw['kind']!r} needs {name}")
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high or value == 0:
        raise InvalidSettlementFaults(f"{where}: {name} must be a non-zero integer from {low} to {high}")
    return value


def _parse_one(raw: Any, where: str) -> SettlementFault:
    if not isinstance(raw, Mapping) or raw.get("kind") not in KINDS:
        raise InvalidSettlementFaults(f"{where}: must be an object with a kind from {list(KINDS)}")
    parameters = PARAMETERS[raw["kind"]]
    unknown = set(raw) - {"kind", "reference", "operation", *parameters}
    if unknown:
        raise InvalidSettlementFaults(f"{where}: unknown fields {sorted(unknown)} for kind {raw['kind']!r}")
    reference, operation = raw.get("reference"), raw.get("operation", "charge")
    if not isinstance(reference, str) or not 0 < len(reference) <= REFERENCE_LENGTH_MAX:
        raise InvalidSettlementFaults(f"{where}: reference must name a payment in 1 to {REFERENCE_LENGTH_MAX} "
                                      "characters")
    if operation not in OPERATIONS:
        raise InvalidSettlementFaults(f"{where}: operation must be one of {list(OPERATIONS)}")
    values = {name: _parameter(raw, name, default, where) for name, default in parameters.items()}
    return SettlementFault(raw["kind"], reference, operation, **values)


def parse_faults(body: Any) -> tuple[SettlementFault, ...]:
    """The faults of a `{"faults": [...]}` body: the whole list, which replaces the previous one."""
    if not isinstance(body, Mapping) or set(body) != {"faults"} or not isinstance(body["faults"], list):
        raise InvalidSettlementFaults('the body must be {"faults": [...]}')
    if len(body["faults"]) > FAULTS_MAX:
        raise InvalidSettlementFaults(f"at most {FAULTS_MAX} faults")
    return tuple(_parse_one(raw, f"faults[{index}]") for index, raw in enumerate(body["faults"]))
