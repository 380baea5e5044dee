"""``tether demo``: the fault lab watched by the monitor, alone or with an agent beside it."""
