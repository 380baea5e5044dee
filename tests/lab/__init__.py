"""The fault lab itself."""
