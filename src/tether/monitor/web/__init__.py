"""The HTTP face of the monitor, in rooms by what each part serves (docs/architecture.md,
"The web in rooms"): ``auth/`` (login, sessions, tokens), ``api/`` (the JSON API that
changes or feeds the monitor), ``scrape/`` (``/metrics``, ``/probe``), ``documents/`` (what
the dashboard shows), ``pages/`` (the dashboard's HTML), ``status/`` (status pages,
badges).  Its top level is the server with the one table of routes (``_web.py``) and what
the rooms share; ``static/``, ``templates/`` and ``openapi.json`` are its package data.
"""
