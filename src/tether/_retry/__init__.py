"""Retrying calls: backoff maths, budget, breaker, the loop, and its hooks."""
