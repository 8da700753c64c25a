"""basketpay: a self-hosted payments platform for marketplaces whose basket changes after checkout."""

__version__ = "0.1.0"
__all__ = ["__version__"]
