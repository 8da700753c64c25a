"""The `basketpay` command line."""
