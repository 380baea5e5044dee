"""The library's small shared modules: durations, host:port, DNS rcodes, redaction, did-you-mean."""
