"""Settlement discrepancies a sandbox processor can inject into the day's settlement
files, so reconciliation is tested against breaks it must find. Shared by both sandboxes.

A fault names a payment (`reference`: Stripe PaymentIntent id, Adyen payment PSP
reference) and picks its first `operation` line ("charge" by default, or "refund") in
journal order. Kinds:
- `drop`: the line is left out of the files;
- `amount` (`delta_minor`): the line's gross changes by N, fees unchanged;
- `duplicate`: the line is paid twice, the copy under a new line id;
- `fee` (`extra_fee_minor`): the line's fee grows by N, its net falls by N;
- `late` (`days`, default 1): the line is settled N days after its own day.

Faults touch the files only: the journal stays what happened. Faults on one line
combine (a drop wins); a fault whose payment has no such line changes nothing. Set them
with `POST /__sandbox/settlement_faults` `{"faults": [...]}` (the list is replaced).
"""

from basketpay.sandboxes.settlement_faults.endpoint import SettlementFaults, settlement_faults_endpoint
from basketpay.sandboxes.settlement_faults.parsing import (
    KINDS,
    OPERATIONS,
    InvalidSettlementFaults,
    SettlementFault,
    parse_faults,
)
from basketpay.sandboxes.settlement_faults.picking import Alteration, LineKey, alterations, apply_faults, derived_id

__all__ = ["KINDS", "OPERATIONS", "Alteration", "InvalidSettlementFaults", "LineKey", "SettlementFault",
           "SettlementFaults", "alterations", "apply_faults", "derived_id", "parse_faults",
           "settlement_faults_endpoint"]
