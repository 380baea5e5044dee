"""tether's tests, in folders that mirror the code (docs/architecture.md, "Where the tests
live")."""
