"""What the tests share: harnesses, servers on loopback, fakes, simulated time."""
