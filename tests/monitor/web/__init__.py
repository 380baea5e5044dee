"""The monitor's HTTP face: pages, the API, /metrics and /probe, access and login."""
