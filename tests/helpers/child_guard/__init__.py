"""The network guard, for the suite and for the Python processes its tests start."""
