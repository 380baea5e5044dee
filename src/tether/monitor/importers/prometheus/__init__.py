"""``tether import prometheus``: the scrape jobs that probe through blackbox_exporter, as
tether monitors (``_import.py`` is the entry)."""
