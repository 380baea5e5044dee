"""What the instances of a cluster and the locations of a monitor say, as read-only
views for the pages (docs/architecture.md).
"""
