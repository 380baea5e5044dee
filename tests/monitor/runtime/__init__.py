"""The running monitor: the runner, worker processes, the loop, the process as a user runs it."""
