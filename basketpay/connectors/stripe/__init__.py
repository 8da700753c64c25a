"""Stripe as a connector: PaymentIntents created and confirmed in one call, captured
(partially or finally), incremented, cancelled and refunded through the official SDK."""

from basketpay.connectors.stripe.connector import StripeConnector

__all__ = ["StripeConnector"]
