"""Metrics, structured logs and the redaction that keeps card data and secrets out of them."""
