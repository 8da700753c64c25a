"""Payment intents, their processor attempts and refunds."""
