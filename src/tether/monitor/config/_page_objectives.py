"""A status page's ``objectives:``: the objectives whose SLI and budget left the page
shows (docs/status-pages.md).  Each must be one of the file's ``objectives:``, listed
once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tether._suggest import did_you_mean
from tether.monitor.config._errors import KeyPath, Problem, show

if TYPE_CHECKING:
    from tether.monitor.config._models import StatusPage

__all__ = ["check_page_objectives"]


def check_page_objectives(pages: Sequence[StatusPage], objectives: Sequence[str]) -> list[Problem]:
    """One problem per name a page lists that is no objective, or that it lists twice."""
    errors: list[Problem] = []
    for i, page in enumerate(pages):
        seen: set[str] = set()
        for j, name in enumerate(page.objectives):
            at: KeyPath = ("status_pages", i, "objectives", j)
            if name not in objectives:
                hint = did_you_mean(name, list(objectives)) or "; define it under objectives"
                errors.append((at, f"no objective named {show(name)}{hint}"))
            elif name in seen:
                errors.append((at, f"{show(name)} is already on this page"))
            seen.add(name)
    return errors
