"""An order as it is stored: its basket, its tenders and what each has authorized,
captured and refunded, the split of the delivered basket (what refunds go back by),
the tip, and what the order waits for. Kept as one JSON document in the order's row:
every change to an order locks that row, reads the document, and writes it back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from basketpay.orders.basket import Basket, Charge, ChargeKind, Line
from basketpay.orders.holds import HoldPolicy
from basketpay.orders.tenders import Split, Tender, TenderKind

FINAL_STATUSES = frozenset({"completed", "canceled", "failed"})


@dataclass(frozen=True, slots=True)
class OrderPolicy:
    """The merchant's rules for its orders (defaults from settings, overridable per merchant)."""

    hold_buffer_percent: int = 115
    hold_round_up_major: int = 5
    increment_threshold_minor: int = 0
    tip_change_window_seconds: float = 7200.0
    tip_increase_window_seconds: float = 86400.0
    customer_action_timeout_seconds: float = 3600.0
    customer_action_timeout_outcome: str = "revert"  # revert | cancel

    @property
    def holds(self) -> HoldPolicy:
        return HoldPolicy(self.hold_buffer_percent, self.hold_round_up_major, self.increment_threshold_minor)


@dataclass(slots=True)
class Authorization:
    """One reservation on a tender: a card payment intent, an EBT payment, or a ledger hold."""

    id: str
    amount: int
    purpose: str = "hold"  # hold | extra | reauthorization
    captured: int = 0
    refunded: int = 0
    status: str = "authorized"  # authorized | captured | released
    expires_at: int | None = None  # unix seconds: when a card authorization lapses

    @property
    def open(self) -> bool:
        return self.status == "authorized"


@dataclass(slots=True)
class TenderState:
    id: str
    kind: TenderKind
    reference: str  # pm_… (card), the EBT card's token, the customer (credit), gc_… (gift card)
    authorized: int = 0  # what it may pay at most: the open authorizations' total
    account: str | None = None  # the ledger account of a credit or gift card
    authorizations: list[Authorization] = field(default_factory=list)

    def as_tender(self) -> Tender:
        return Tender(self.id, self.kind, None if self.kind is TenderKind.CARD else self.authorized)

    @property
    def captured(self) -> int:
        return sum(item.captured for item in self.authorizations)

    @property
    def refunded(self) -> int:
        return sum(item.refunded for item in self.authorizations)

    def open_authorizations(self) -> list[Authorization]:
        return [item for item in self.authorizations if item.open]


@dataclass(slots=True)
class ChargeShare:
    """One charge of the delivered basket, who paid it, and what of it was refunded."""

    kind: str
    reference: str
    amount: int
    paid: dict[str, int]
    refunded: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class TipState:
    amount: int = 0  # what the customer chose
    captured: int = 0
    charges: list[dict[str, Any]] = field(default_factory=list)  # the tip's payment intents: {id, amount}
    refunded: int = 0
    rounds: int = 0  # tip workflows started: each charges what is due then
    failed: str | None = None  # the decline code of the last tip charge that failed


@dataclass(slots=True)
class ActionRequired:
    reason: str  # authorization_declined | tenders_insufficient
    deadline: str  # ISO 8601: after it the policy's timeout outcome applies
    decline_code: str | None = None


@dataclass(slots=True)
class OrderRefund:
    """Planned under the order's lock (so refunds and a cancellation never give the same cent
    back twice): which authorization gives back how much, and what the ledger takes back from
    (retailer payables, revenue, tips payable). The workflow then only carries it out."""

    id: str
    amount: int
    lines: list[dict[str, Any]]
    by_tender: dict[str, int]
    reason: str | None = None
    status: str = "pending"  # pending | succeeded
    parts: list[dict[str, Any]] = field(default_factory=list)  # {tender, authorization, amount}
    legs: list[list[Any]] = field(default_factory=list)  # [account code, amount] debited back


def reserve(tender: TenderState, amount: int) -> list[dict[str, Any]]:
    """Mark `amount` of the tender's captures as refunded, authorization by authorization."""
    parts, left = [], amount
    for item in tender.authorizations:
        take = min(left, item.captured - item.refunded)
        if take > 0:
            item.refunded += take
            left -= take
            parts.append({"tender": tender.id, "authorization": item.id, "amount": take})
    if left:
        raise ValueError(f"tender {tender.id}: {amount} is more than it has left to refund")
    return parts


@dataclass(slots=True)
class OrderRecord:
    id: str
    merchant_id: str
    status: str
    currency: str
    customer: str | None
    basket: Basket
    covered_basket: Basket  # the last basket the holds covered: what "revert" goes back to
    tenders: list[TenderState]
    policy: OrderPolicy
    version: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    final_split: list[ChargeShare] | None = None
    tip: TipState = field(default_factory=TipState)
    delivered_at: str | None = None
    canceled_at: str | None = None
    action: ActionRequired | None = None
    failure: dict[str, Any] | None = None
    refunds: list[OrderRefund] = field(default_factory=list)
    refunded_quantities: dict[str, int] = field(default_factory=dict)  # line id -> quantity refunded
    reauthorizations: int = 0
    actions: int = 0  # times the order has needed the customer (numbers its timeout workflows)
    scheduled_for: str | None = None
    cancellation_reason: str | None = None
    # A card authorization asked for after checkout, written down before the call: a run that
    # crashed after the call replays it (same key, same amount) instead of authorizing again.
    pending_authorization: dict[str, Any] | None = None
    authorization_rounds: int = 0
    checkout_digest: str = ""  # of the create request (without the PIN): a retry must send the same

    @property
    def card(self) -> TenderState | None:
        return next((tender for tender in self.tenders if tender.kind is TenderKind.CARD), None)

    def tender(self, tender_id: str) -> TenderState:
        return next(tender for tender in self.tenders if tender.id == tender_id)

    def domain_tenders(self) -> list[Tender]:
        return [tender.as_tender() for tender in self.tenders]

    def delivered_time(self) -> dt.datetime | None:
        return None if self.delivered_at is None else dt.datetime.fromisoformat(self.delivered_at)

    # -- the stored document -----------------------------------------------------------------------
    def document(self) -> dict[str, Any]:
        return {
            "basket": basket_json(self.basket), "covered_basket": basket_json(self.covered_basket),
            "tenders": [asdict(tender) for tender in self.tenders], "policy": asdict(self.policy),
            "metadata": self.metadata,
            "final_split": None if self.final_split is None else [asdict(share) for share in self.final_split],
            "tip": asdict(self.tip), "delivered_at": self.delivered_at, "canceled_at": self.canceled_at,
            "action": None if self.action is None else asdict(self.action), "failure": self.failure,
            "refunds": [asdict(refund) for refund in self.refunds], "reauthorizations": self.reauthorizations,
            "refunded_quantities": self.refunded_quantities, "actions": self.actions,
            "scheduled_for": self.scheduled_for, "checkout_digest": self.checkout_digest,
            "cancellation_reason": self.cancellation_reason,
            "pending_authorization": self.pending_authorization, "authorization_rounds": self.authorization_rounds,
        }

    @classmethod
    def from_row(cls, row: Any) -> OrderRecord:
        doc = row.document
        return cls(
            id=row.id, merchant_id=row.merchant_id, status=row.status, currency=row.currency, customer=row.customer,
            basket=basket_from(doc["basket"]), covered_basket=basket_from(doc["covered_basket"]),
            tenders=[_tender_from(item) for item in doc["tenders"]], policy=OrderPolicy(**doc["policy"]),
            version=row.version, metadata=doc["metadata"],
            final_split=None if doc["final_split"] is None else [ChargeShare(**item) for item in doc["final_split"]],
            tip=TipState(**doc["tip"]), delivered_at=doc["delivered_at"], canceled_at=doc["canceled_at"],
            action=None if doc["action"] is None else ActionRequired(**doc["action"]), failure=doc["failure"],
            refunds=[OrderRefund(**item) for item in doc["refunds"]], reauthorizations=doc["reauthorizations"],
            refunded_quantities=doc["refunded_quantities"], actions=doc["actions"],
            scheduled_for=doc["scheduled_for"], checkout_digest=doc["checkout_digest"],
            cancellation_reason=doc["cancellation_reason"],
            pending_authorization=doc["pending_authorization"], authorization_rounds=doc["authorization_rounds"],
        )


def _tender_from(item: dict[str, Any]) -> TenderState:
    authorizations = [Authorization(**entry) for entry in item["authorizations"]]
    return TenderState(item["id"], TenderKind(item["kind"]), item["reference"], item["authorized"], item["account"],
                       authorizations)


def basket_json(basket: Basket) -> dict[str, Any]:
    return {"currency": basket.currency, "lines": [asdict(line) for line in basket.lines],
            "fees": [list(fee) for fee in basket.fees], "tip": basket.tip}


def basket_from(data: dict[str, Any]) -> Basket:
    return Basket(data["currency"], tuple(Line(**line) for line in data["lines"]),
                  tuple((name, amount) for name, amount in data["fees"]), data["tip"])


def split_json(result: Split) -> list[ChargeShare]:
    return [ChargeShare(charge.kind.value, charge.reference, charge.amount, dict(share))
            for charge, share in zip(result.charges, result.shares, strict=True)]


def without_tip(basket: Basket) -> Basket:
    """The tip is a charge of its own after delivery: it is never part of the split or the hold."""
    return replace(basket, tip=0)


def item_charges(basket: Basket) -> list[Charge]:
    return [charge for charge in without_tip(basket).charges() if charge.kind is not ChargeKind.TIP]
