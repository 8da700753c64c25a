"""Merchants (tenants) and their secret API keys."""
