"""The transactional outbox: every state change writes an event row in its own transaction."""
