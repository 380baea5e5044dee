"""The JSON API that changes or feeds a running monitor: the write API and its audit log
(``_actions.py``, described in ``web/openapi.json``), silences, ``/api/objectives``,
``tether agent``'s routes, pushes and reported calls."""
