"""The incident engine: incidents opened, grouped, held and resolved from the detector's and
the quorum's verdicts, and the alerts they send (``_engine.py`` is the face)."""
