"""What Prometheus scrapes: ``/metrics`` (the default scrape and the scoped ones), ``/probe``'s
answer in blackbox_exporter's text format, and the discovery sources' families and banner."""
