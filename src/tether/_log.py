"""The ``tether`` logger, with the one ``NullHandler`` a library adds and nothing else.

A library logs and never configures logging: the application decides where lines go.
Without a handler of its own, Python would print tether's warnings through its "last
resort" handler; the ``NullHandler``, added once here as requests and urllib3 do, stops
that.  Every module that logs imports :data:`logger` (or this module, for loggers below
``tether``), so the handler is in place before tether's first line; ``import tether``
imports this module only when the application has imported ``logging`` already, so
that a plain ``import tether`` does not pay for ``logging``.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("tether")
"""The logger every ``tether.*`` logger propagates to."""
logger.addHandler(logging.NullHandler())
