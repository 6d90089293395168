"""Admin for the outbox (read-only audit of recorded events)."""
