"""Routing experiments: which arm a customer or order is in (`assignment`), and what the
arms' payments say once enough of them are in (`stats`)."""
