"""Instances sharing one PostgreSQL database: leases, shares, locations."""
