"""This instance's membership of its cluster (``_membership.py``: renewal rounds, shards
moved, the lead, the locations read), and what the instances of a cluster and the
locations of a monitor say, as read-only views for the pages (docs/architecture.md).
"""
