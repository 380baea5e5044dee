"""The probe engine (``tether.probe``): every scheme and phase, on loopback."""
