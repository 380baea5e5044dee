"""One check: its schedule, the prober, never a silent failure."""
