"""The in-process sandbox processor: test-card outcomes, processor-side idempotency, and
state kept in its own tables so it outlives a crash of the basketpay process."""

from basketpay.connectors.sandbox.connector import SandboxConnector

__all__ = ["SandboxConnector"]
