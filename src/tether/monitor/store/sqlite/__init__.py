"""The SQLite store (the default): one writer thread, batched writes in WAL mode, with its own
migrations."""
