"""The Stripe sandbox's faults: the shared model in basketpay/sandboxes/faults.py."""

from basketpay.sandboxes.faults import DroppedReply, Faults, faults_endpoint

__all__ = ["DroppedReply", "Faults", "faults_endpoint"]
