"""``tether diagnose``: the probe engine, told to a person."""
