"""A way in from other monitors: their configurations read into tether's.

``tether import gatus config.yaml``, ``tether import kuma kuma.db`` and ``tether import
prometheus prometheus.yml`` print a tether configuration on standard output and, on
standard error, each thing that could not be carried over with why
(docs/migrating.md).  Each importer is a function of one file to an :class:`Imported`:
the configuration as plain data (what ``tether.yaml`` holds), checked by tether's own
loader before it is printed, and what was left out.  A file that is not what the
importer reads is one :class:`ImportFailed` with a line saying why.
"""

from __future__ import annotations

from tether.monitor.importers._common import Imported, ImportFailed, LeftOut, to_yaml

__all__ = ["ImportFailed", "Imported", "LeftOut", "to_yaml"]
