"""A SNAP EBT processor sandbox: cards with balances, PIN tokens, authorize/capture/
cancel/refund, idempotency keys and faults."""

from basketpay.sandboxes.ebt_api.app import create_app

__all__ = ["create_app"]
