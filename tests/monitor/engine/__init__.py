"""The monitor's pure decisions: detection, baselines, quorum, correlation, incidents, traffic."""
