"""The dashboard's documents: what ``/api/status``, ``/api/monitors/{name}``,
``/api/series/{name}`` and ``/api/incidents`` serve and the pages render, built from a
:class:`~tether.monitor.web.documents._snapshot.Snapshot`; ``tether status``'s document and text."""
