"""Placeholder: the kuma importer is being written (issue 28)."""

from __future__ import annotations

from tether.monitor.importers._common import Imported, ImportFailed

__all__ = ["import_kuma"]


def import_kuma(path: str) -> Imported:
    raise ImportFailed(f"{path}: the kuma importer is not written yet")
