"""Other monitors' configurations read into tether's (tether import)."""
