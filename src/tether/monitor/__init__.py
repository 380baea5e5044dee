"""The monitor: configuration, conditions, detection, incidents, storage, alerts.

Work in progress (issue 5): the pure cores come first.

Needs the ``monitor`` extra (``pip install 'tether[monitor]'``); without it, importing
this package raises an ImportError that says so.
"""

from tether._extras import require

require("tether.monitor", "monitor")
