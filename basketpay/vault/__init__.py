"""The card vault: card numbers encrypted at rest; everything else sees `pm_` tokens."""
