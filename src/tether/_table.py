"""Plain-text tables for the terminal: the one home of the column layout the commands print
(``tether status``, ``history``, ``lab``, ``lab --matrix``)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["table_lines", "text_table"]


def table_lines(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of :func:`text_table`, the header's first, then one per row (each ending
    in a newline), for a caller that puts lines of its own between the rows."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in [header, *rows]
    ]


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """``header`` and ``rows`` in left-aligned columns two spaces apart, one line each,
    without trailing spaces."""
    return "".join(table_lines(header, rows))
