"""``alert_when:``, a probed monitor's rule over a window of its recent checks, and what it
cannot go with."""
