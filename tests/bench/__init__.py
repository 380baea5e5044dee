"""The benchmarks still run: their quick modes, end to end."""
