"""Who may come in: login and its sessions, API tokens, and the middleware in front of every
route (docs/security.md).  What a request may do once in is ``web/_access.py``, which every
room shares."""
