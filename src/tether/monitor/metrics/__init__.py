"""The monitor's own metrics, as the runtime feeds them and ``/metrics`` reads them: the
registry of every monitor's series (``_metrics.py``), Prometheus's text format written by hand
(``_exposition.py``), and the collectors of the agents, the objectives and the calls that
applications report.  A layer of its own below ``web/`` (docs/architecture.md): the runtime
feeds these collectors without importing the web."""
