"""The password the web's tests give their users, and the scrypt cost they hash it at."""

from __future__ import annotations

PASSWORD = "correct horse battery"
FAST = 2**10  # the parameters are in the hash; the default 2**15 is tested in test_auth.py
