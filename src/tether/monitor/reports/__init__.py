"""What the store holds, as documents: results, incidents and their members, uptime;
and the client of a running monitor's API (docs/architecture.md).
"""
