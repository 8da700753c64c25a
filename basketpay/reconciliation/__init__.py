"""Reconciliation of processor settlement files and retailer point-of-sale feeds against
basketpay's attempts and ledger (see the README's "Reconciliation")."""
