"""SNAP EBT as a tender: a client for an EBT processor's API (the sandbox's shape)."""

from basketpay.connectors.ebt.client import EbtClient, EbtDeclined, EbtPayment, EbtUnavailable

__all__ = ["EbtClient", "EbtDeclined", "EbtPayment", "EbtUnavailable"]
