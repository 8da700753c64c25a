"""Idempotency keys: replay, mismatch detection, leases and recovery points."""
