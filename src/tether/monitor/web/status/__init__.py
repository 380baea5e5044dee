"""Public status pages and badges: what the configuration makes public, readable without a
login."""
