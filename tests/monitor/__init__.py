"""``tether monitor``, one folder per layer of ``src/tether/monitor/``; its records here."""
