"""Alert channels and the outbox that delivers through them."""
