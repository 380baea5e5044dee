"""Labels and the matchers that select by them (Prometheus's and Alertmanager's), and the
matchers' RE2 regular expressions."""
