"""The HTTP face of the monitor: routes, pages, the JSON API, metrics, access rules,
login and sessions, and the static files (docs/architecture.md).
"""
