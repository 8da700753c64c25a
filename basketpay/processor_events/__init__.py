"""Inbound webhooks from processors: verified, recorded once per event, and used to
resolve attempts whose outcome basketpay has not heard yet."""
