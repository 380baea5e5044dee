"""The screenshot of each browser monitor's last failed check: one PNG per monitor,
replaced by the next failure, pruned with the raw results (``_retention.py``).

Kept small on purpose: :meth:`ScreenshotStore.save_screenshot` queues the write (a check
never waits for it), :meth:`ScreenshotStore.screenshot_of` reads one back for the monitor's
page.  Agents do not upload theirs: a screenshot is kept where the check ran in this
process (docs/monitor.md, "Browser checks").
"""

from __future__ import annotations

from typing import Protocol

from tether.monitor.store._dialect import C, SQLStore

__all__ = ["ScreenshotSQL", "ScreenshotStore"]


class ScreenshotStore(Protocol):
    """The last failure's screenshot of each browser monitor."""

    def save_screenshot(self, monitor: str, at: float, png: bytes) -> None:
        """Queue ``png``, taken at ``at``, as ``monitor``'s last failure's screenshot."""

    def screenshot_of(self, monitor: str) -> tuple[float, bytes] | None:
        """When ``monitor``'s last failure's screenshot was taken, and the PNG; or None."""


class ScreenshotSQL(SQLStore[C]):
    """The screenshots' SQL, both backends alike."""

    def save_screenshot(self, monitor: str, at: float, png: bytes) -> None:
        data = bytes(png)

        def upsert(conn: C) -> None:
            self._execute(
                conn,
                "INSERT INTO tether_screenshots (monitor, taken, png) VALUES (%s, %s, %s) "
                "ON CONFLICT (monitor) DO UPDATE SET taken = excluded.taken, png = excluded.png",
                (monitor, at, data),
            )

        self._queue_write(upsert, f"screenshot of {monitor}")

    def screenshot_of(self, monitor: str) -> tuple[float, bytes] | None:
        rows = self._rows(
            "SELECT taken, png FROM tether_screenshots WHERE monitor = %s", (monitor,)
        )
        if not rows:
            return None
        taken, png = rows[0]
        return float(taken), bytes(png)
