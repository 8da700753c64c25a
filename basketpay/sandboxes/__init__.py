"""Sandbox processors: real HTTP servers that behave like the processors basketpay's
connectors talk to (test cards, idempotency, errors, webhooks), so everything runs
and is tested offline. `basketpay sim` starts them."""
