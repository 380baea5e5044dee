"""The monitor: configuration, conditions, detection, incidents, storage, alerts.

Work in progress (issue 5): the pure cores come first.
"""
