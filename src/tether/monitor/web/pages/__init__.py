"""The dashboard's HTML pages and their handlers: each page rendered by the templates of
``web/templates/`` from its document (``web/documents/``), the objectives' pages and the
monthly report's printable page."""
