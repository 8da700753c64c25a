"""A Stripe-compatible sandbox processor: the subset of Stripe's REST API basketpay uses
(PaymentIntents with manual capture and incremental authorization, refunds, payment
methods, idempotency keys, signed webhooks), served over real HTTP so the official
`stripe` SDK works against it unmodified. Test cards decline as in
`basketpay.connectors.sandbox.cards`."""

from basketpay.sandboxes.stripe_api.app import create_app
from basketpay.sandboxes.stripe_api.store import StripeSandboxConfig

__all__ = ["StripeSandboxConfig", "create_app"]
