"""The PostgreSQL store: the same store as SQLite's, for many monitors or a shared server, with
its own migrations."""
