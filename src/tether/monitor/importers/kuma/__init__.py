"""``tether import kuma``: Uptime Kuma's database read into tether's (``_import.py`` is the
entry)."""
