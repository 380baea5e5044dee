"""Running one check: its schedule, the prober, the judge of its conditions, the
blackbox_exporter modules and the dns:// check (docs/architecture.md).
"""
