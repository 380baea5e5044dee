"""A ``browser:`` monitor's options and what they cannot go with."""
