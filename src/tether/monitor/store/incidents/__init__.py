"""Incidents in the store: the protocol and the SQL both backends share (``_sql.py``), and an
incident as rows (``_rows.py``)."""
