"""Request bodies of the orders API. Quantities of weighed lines are in thousandths of the
priced unit (1250 = 1.25 lb at a price per lb); all amounts are integer minor units."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, StringConstraints, model_validator

from basketpay.payments.schemas import Currency, Metadata, ObjectId, Text, _Strict

LINE_ID = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
EVENT_ID = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,128}$")]
QUANTITY_MAX = 1_000_000
AMOUNT_MAX = 100_000_000_00  # per line or fee: far beyond any grocery basket
Amount = Annotated[StrictInt, Field(ge=0, le=AMOUNT_MAX)]
Quantity = Annotated[StrictInt, Field(ge=0, le=QUANTITY_MAX, description="Units, or thousandths when weighed.")]


class LineIn(_Strict):
    id: LINE_ID
    unit_price: Amount
    quantity: Quantity
    weighed: StrictBool = False
    snap_eligible: StrictBool = False
    tax_rate_bps: StrictInt = Field(default=0, ge=0, le=10_000)
    deposit_per_unit: Amount = 0

    @model_validator(mode="after")
    def _weighed_lines_have_no_deposit(self) -> LineIn:
        if self.weighed and self.deposit_per_unit:
            raise ValueError("a weighed line cannot carry a per-unit deposit")
        return self


class FeeIn(_Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,40}$")]
    amount: Amount


class TenderIn(_Strict):
    type: Literal["snap_ebt", "credit", "gift_card", "card"]
    payment_method: Text | None = Field(default=None, max_length=128,
                                        description="card: a vaulted pm_…; snap_ebt: the EBT card's processor token.")
    pin_token: Text | None = Field(default=None, max_length=256,
                                   description="snap_ebt: the PIN block token from the EBT processor's PIN pad. "
                                               "Used for the authorization only; never stored.")
    gift_card: ObjectId | None = None

    @model_validator(mode="after")
    def _fields_fit_the_type(self) -> TenderIn:
        needs = {"card": ("payment_method",), "snap_ebt": ("payment_method", "pin_token"), "gift_card": ("gift_card",),
                 "credit": ()}[self.type]
        for name in ("payment_method", "pin_token", "gift_card"):
            given = getattr(self, name) is not None
            if given != (name in needs):
                raise ValueError(f"a {self.type} tender {'needs' if name in needs else 'takes no'} {name}")
        return self


class OrderCreate(_Strict):
    currency: Currency
    customer: Text | None = Field(default=None, min_length=1, max_length=255,
                                  description="Needed for a credit tender: whose credit.")
    lines: list[LineIn] = Field(min_length=1, max_length=500)
    fees: list[FeeIn] = Field(default_factory=list, max_length=20)
    tip: Amount = 0
    tenders: list[TenderIn] = Field(min_length=1, max_length=10)
    scheduled_for: StrictInt | None = Field(default=None, ge=0, le=253402300799,
                                            description="Unix seconds: the delivery slot of a scheduled order.")
    metadata: Metadata



class ItemEventIn(_Strict):
    id: EVENT_ID = Field(description="Your id for the event: sending it again is a no-op.")
    type: Literal["substituted", "weighed", "out_of_stock", "added", "quantity_changed"]
    line_id: LINE_ID
    quantity: Quantity | None = None
    line: LineIn | None = None


class TipUpdate(_Strict):
    amount: Amount


class RefundLineIn(_Strict):
    line_id: LINE_ID
    quantity: Quantity | None = Field(default=None, description="Default: the whole line.")


class OrderRefundCreate(_Strict):
    lines: list[RefundLineIn] = Field(min_length=1, max_length=500)
    reason: Literal["missing", "damaged", "requested_by_customer"] = "missing"


class OrderCancel(_Strict):
    reason: Literal["requested_by_customer", "out_of_stock", "abandoned", "fraudulent"] = "requested_by_customer"


class ActionResolve(_Strict):
    payment_method: ObjectId | None = Field(default=None, description="A new card (pm_…) to hold the order on.")


class OrderPolicyIn(_Strict):
    hold_buffer_percent: StrictInt | None = Field(default=None, ge=100, le=200)
    hold_round_up_major: StrictInt | None = Field(default=None, ge=1, le=1000)
    increment_threshold_minor: Amount | None = None
    tip_change_window_seconds: StrictInt | None = Field(default=None, ge=0, le=30 * 86400)
    tip_increase_window_seconds: StrictInt | None = Field(default=None, ge=0, le=30 * 86400)
    customer_action_timeout_seconds: StrictInt | None = Field(default=None, ge=0, le=30 * 86400)
    customer_action_timeout_outcome: Literal["revert", "cancel"] | None = None

    def given(self) -> dict[str, Any]:
        return {name: value for name, value in self.model_dump().items() if value is not None}
