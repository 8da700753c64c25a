"""Adyen as a connector: Checkout API v71 `/payments` answered synchronously, and
captures, cancels, refunds and amount updates that Adyen confirms later by webhook."""

from basketpay.connectors.adyen.connector import AdyenConnector

__all__ = ["AdyenConnector"]
