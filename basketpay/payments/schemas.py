"""Request bodies of the payments API. Unknown fields are refused; amounts are strict
integers in minor units; currencies are checked against ISO 4217."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from basketpay.money import MoneyError, currency_exponent

INT64_MAX = 2**63 - 1
OBJECT_ID_PATTERN = r"^[A-Za-z0-9_]{1,64}$"
# PostgreSQL text cannot hold NUL: refuse it at the edge, with the parameter's name,
# instead of letting the database fail the request.
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]
ObjectId = Annotated[str, StringConstraints(pattern=OBJECT_ID_PATTERN)]
AmountMinor = Annotated[StrictInt, Field(gt=0, le=INT64_MAX, description="Amount in the currency's minor unit.")]


def _known_currency(value: str) -> str:
    try:
        currency_exponent(value)
    except MoneyError as error:
        raise ValueError(str(error)) from error
    return value


# An ISO 4217 code basketpay knows the exponent of: lower case in the payments API (as
# Stripe's), upper case in the ledger (as on statements).
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$"),
                     AfterValidator(lambda value: _known_currency(value).lower())]
LedgerCurrency = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{3}$"),
                           AfterValidator(lambda value: _known_currency(value).upper())]
Metadata = Annotated[
    dict[Text, Text],
    Field(default_factory=dict, description="Up to 50 keys (40 characters) with values of up to 500."),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CardIn(_Strict):
    number: Text = Field(min_length=1, max_length=32)
    exp_month: StrictInt = Field(ge=1, le=12)
    exp_year: StrictInt = Field(ge=1000, le=9999)
    cvc: Text | None = Field(default=None, max_length=8)


class PaymentMethodCreate(_Strict):
    type: Literal["card"]
    card: CardIn


class PaymentIntentCreate(_Strict):
    amount: AmountMinor
    currency: Currency = Field(description="ISO 4217 code, e.g. usd, jpy, kwd.")
    capture_method: Literal["automatic", "manual"] = "automatic"
    payment_method: ObjectId | None = None
    confirm: StrictBool = False
    customer: Text | None = Field(default=None, max_length=255)
    description: Text | None = Field(default=None, max_length=1000)
    off_session: StrictBool = Field(default=False, description="Merchant-initiated (shorter Visa validity).")
    metadata: Metadata



class PaymentIntentConfirm(_Strict):
    payment_method: ObjectId | None = None


class PaymentIntentCapture(_Strict):
    amount_to_capture: AmountMinor | None = None
    final_capture: StrictBool = True


class PaymentIntentIncrement(_Strict):
    amount: AmountMinor = Field(description="The new total authorized amount.")


class PaymentIntentCancel(_Strict):
    cancellation_reason: (
        Literal["duplicate", "fraudulent", "requested_by_customer", "abandoned"] | None
    ) = None


class RefundCreate(_Strict):
    payment_intent: ObjectId
    amount: AmountMinor | None = None
    reason: Literal["duplicate", "fraudulent", "requested_by_customer"] | None = None
    metadata: Metadata


# -- response shapes, for the OpenAPI document (responses are serialized by serializers.py) --------
class LastPaymentError(BaseModel):
    type: str
    code: str
    decline_code: str | None
    message: str
    payment_method: str | None


class PaymentIntentOut(BaseModel):
    id: str = Field(examples=["pi_3xQ9…"])
    object: Literal["payment_intent"]
    amount: int
    amount_authorized: int
    amount_capturable: int
    amount_received: int
    amount_refunded: int
    currency: str
    status: Literal[
        "requires_payment_method", "requires_confirmation", "requires_capture", "processing",
        "succeeded", "canceled",
    ]
    capture_method: Literal["automatic", "manual"]
    payment_method: str | None
    customer: str | None
    description: str | None
    metadata: dict[str, str]
    off_session: bool
    card_brand: str | None
    connector: str | None
    processor_reference: str | None
    authorization_expires_at: int | None = Field(description="Unix time the authorization lapses.")
    last_payment_error: LastPaymentError | None
    cancellation_reason: str | None
    canceled_at: int | None
    created: int


class RefundOut(BaseModel):
    id: str = Field(examples=["re_…"])
    object: Literal["refund"]
    amount: int
    currency: str
    payment_intent: str
    status: Literal["pending", "succeeded", "failed"]
    reason: str | None
    metadata: dict[str, str]
    failure_reason: str | None
    created: int


class PaymentIntentList(BaseModel):
    object: Literal["list"]
    url: str
    data: list[PaymentIntentOut]
    has_more: bool


class RefundList(BaseModel):
    object: Literal["list"]
    url: str
    data: list[RefundOut]
    has_more: bool
