"""History a year and more old in a store, beside what must outlive any prune: for the
tests of who prunes, and when, in each deployment shape (issue 44 §7)."""

from __future__ import annotations

from typing import Final

from tether.monitor._records import AuditEntry
from tether.monitor.store import Store

DAY: Final = 86400.0

LEFT: Final = (
    "SELECT (SELECT count(*) FROM tether_audit), "
    "(SELECT count(*) FROM tether_silences WHERE comment = 'over')"
)
"""Audit entries, and silences over for a year, in the store: (3, 1) as :func:`seed`
leaves it, (1, 0) once pruned (the newest audit entry stays whatever its age)."""

IN_FORCE: Final = "SELECT comment FROM tether_silences WHERE comment = 'in force'"


def seed(store: Store, now: float) -> None:
    """Three audit entries and a silence, all over 400 days before ``now``, and a silence
    made then that is still in force (never pruned)."""
    old = now - 400 * DAY

    def said(action: str) -> AuditEntry:
        return AuditEntry(old, "ana", "token", action, "", {})

    store.request_check("gone", said("check"))
    store.add_silence(['team="old"'], old, old + 60, "over", said("silence.add"))
    store.add_silence(['team="now"'], old, now + 30 * DAY, "in force", said("silence.add"))
    store.flush()
