"""What a backend's SQL dialect supplies to the statements both stores share.

The SQL both backends run alike is written once, by concern, beside the protocol it
implements (``_results.py``, ``_outbox.py``, ``incidents/_sql.py``, ``_controls.py``), in
PostgreSQL's spelling: ``%s`` and ``%(name)s`` placeholders, a placeholder cast where
PostgreSQL needs to be told a type (``%s::jsonb``, ``%(names)s::text[]``).  SQLite runs
the same text with its own placeholders (:func:`qmark`: ``?`` and ``:name``, the cast
left out: SQLite keeps JSON as text and has no arrays).  What differs beyond that is
asked of the backend through :class:`SQLStore`'s hooks: how a statement is run and rows
read, how JSON is written and read back, how a column is matched against a list.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar

from tether.monitor._records import AuditEntry, OpenedWindow
from tether.monitor.store._writer import BatchedStore

C = TypeVar("C")

_PLACEHOLDER = re.compile(r"%\((\w+)\)s(?:::[\w\[\]]+)?|%s(?:::[\w\[\]]+)?|%%")


@functools.lru_cache(maxsize=512)
def qmark(sql: str) -> str:
    """``sql`` written for psycopg (``%s``, ``%(name)s``, each maybe cast: ``%s::jsonb``)
    as sqlite3 takes it (``?``, ``:name``, without the cast); ``%%`` becomes ``%``."""

    def placeholder(match: re.Match[str]) -> str:
        if match[0] == "%%":
            return "%"
        return "?" if match[1] is None else f":{match[1]}"

    return _PLACEHOLDER.sub(placeholder, sql)


class SQLStore(BatchedStore[C]):
    """A store whose SQL is partly shared with the other backend's: the hooks that shared
    SQL asks of its dialect.  Each store implements every one of them; the shared
    methods (``ResultSQL``, ``OutboxSQL``, ``IncidentSQL``, ``ControlSQL``) call them."""

    def _execute(self, conn: C, sql: str, params: Any = ()) -> Any:
        """Run ``sql`` (written for psycopg: see :func:`qmark`) on the write connection
        ``conn``; the cursor."""
        raise NotImplementedError

    def _rows(self, sql: str, params: Any = ()) -> Sequence[Sequence[Any]]:
        """The rows of one read of ``sql`` (written for psycopg), on a read connection."""
        raise NotImplementedError

    def _json(self, value: Any) -> str:
        """``value`` as the JSON text this backend stores (cast with ``::jsonb``)."""
        raise NotImplementedError

    def _decode(self, value: Any) -> Any:
        """A stored JSON column as Python (``json.loads`` for text; psycopg decodes JSONB)."""
        raise NotImplementedError

    def _text(self, text: str) -> str:
        """``text`` as this backend can store it."""
        return text

    def _any(self, column: str, param: str, cast: str = "") -> str:
        """A condition: ``column`` is one of the values of ``param`` (a placeholder given
        :meth:`_list`'s value; ``cast``: the PostgreSQL array type to cast it to)."""
        raise NotImplementedError

    def _holds_any(self, column: str, param: str) -> str:
        """A condition: the JSON array in ``column`` holds one of the values of ``param``
        (a placeholder given :meth:`_list`'s value)."""
        raise NotImplementedError

    def _list(self, values: Collection[Any]) -> Any:
        """``values`` as a parameter :meth:`_any` matches against."""
        raise NotImplementedError

    def _log(self, audit: AuditEntry, window: OpenedWindow | None = None) -> Callable[[C], None]:
        """The write that logs ``audit`` (``ControlSQL._log``)."""
        raise NotImplementedError
