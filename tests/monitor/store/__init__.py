"""The monitor's stores, SQLite and PostgreSQL, and the shares of a cluster."""
