"""The fault lab: servers on loopback that misbehave on purpose.

Every failure kind that tether knows has a scenario here that produces it for
real, so tether and its users can test resilience against real sockets.
"""

from tether.lab._lab import SPECS, Lab, Scenario

__all__ = ["SPECS", "Lab", "Scenario"]
