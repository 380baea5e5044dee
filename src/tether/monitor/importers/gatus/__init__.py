"""``tether import gatus``: Gatus's configuration read into tether's (``_import.py`` is the
entry)."""
