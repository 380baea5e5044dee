"""The pages' HTML: one Jinja2 environment over ``templates/``, the filters the templates
share, and :class:`Page`, what a route renders.

Python computes every value a page shows (the documents of ``_dashboard.py`` and
``_statuspage.py``, and the numbers of its SVG shapes); a template only lays them out.
Autoescape is on for every template, so a value is escaped once, where it is written
into the page; :class:`~markupsafe.Markup` is built here from escaped parts alone (a
template's output, or :meth:`Markup.format`).  ``StrictUndefined``: a name a template
uses and is not given is an error, not an empty string.  Whitespace is trimmed around
block tags (``trim_blocks``, ``lstrip_blocks``): a ``{% ... %}`` on a line of its own
writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from tether._durations import human_duration
from tether._plural import count
from tether.monitor.reports._uptime import format_uptime
from tether.monitor.web._routing import monitor_path

if TYPE_CHECKING:
    from tether.monitor.web._access import Principal

__all__ = ["EMPTY", "ENV", "Page", "latency", "macro", "render", "when", "with_code"]


def when(text: str | None, none: str = "—") -> Markup:
    """An ISO time as ``<time>``, shown as ``2027-01-15 10:00:00 UTC``; ``none`` without one."""
    if text is None:
        return escape(none)
    shown = text.replace("T", " ").replace("Z", " UTC")
    return Markup('<time datetime="{0}">{1}</time>').format(text, shown)


def latency(ms: float | None) -> str:
    """``12.3 ms``, or ``—`` for none."""
    return "—" if ms is None else f"{ms:.1f} ms"


def with_code(value: object) -> Markup:
    """``value`` escaped, its backquoted spans (the catalogue's hints write commands so:
    `timedatectl`) shown as code rather than with their backquotes."""
    parts = str(value).split("`")
    if len(parts) % 2 == 0:  # a backquote left open: shown as it is
        return escape(value)
    code = Markup("<code>{0}</code>")
    return Markup("").join(p if n % 2 == 0 else code.format(p) for n, p in enumerate(parts))


EMPTY: Final = Markup("")
"""No markup: a banner while all is well, a page's header without controls."""

ENV: Final = Environment(
    loader=PackageLoader("tether.monitor.web", "templates"),
    autoescape=select_autoescape(("html",), default_for_string=True, default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(
    when=when,
    latency=latency,
    with_code=with_code,
    duration=human_duration,
    uptime=format_uptime,
    count=count,
    monitor_path=monitor_path,
    thousands="{:,}".format,
)


def render(template: str, /, **values: Any) -> Markup:
    """Template ``template`` of ``templates/`` filled with ``values``, as markup."""
    return Markup(ENV.get_template(template).render(**values))


def macro(template: str, name: str) -> Callable[..., Markup]:
    """Macro ``name`` of template ``template``, to call from Python: its arguments in the
    macro's order, its output markup."""
    found: Callable[..., Markup] = getattr(ENV.get_template(template).module, name)
    return found


@dataclass(frozen=True, slots=True)
class Page:
    """A rendered page: its title and its live parts, the "as of" corner and ``<main>``.
    The whole page and its fragment (what the script swaps in) carry the same parts."""

    title: str
    path: str | None
    """Where the page lives, so where its fragment is; ``None``: not refreshed."""
    now: str | None
    main: Markup
    status: int = 200
    styles: tuple[str, ...] = ()
    """More style sheets of ``static/`` for this page (after ``base.css`` and ``dashboard.css``)."""
    scripts: tuple[str, ...] = ()
    """More scripts of ``static/`` for this page, run in this order after the page loads."""
    controls: Markup = EMPTY
    """What the page's header holds besides the links (the overview's filter form): not
    live, so a refresh never takes what someone is typing."""

    def fragment(self) -> str:
        """The live parts alone, each an element whose ``id`` names the part it replaces."""
        return str(render("fragment.html", page=self)) + "\n"

    def document(self, refresh_ms: int, who: Principal | None = None) -> str:
        """The whole page; the script refreshes it every ``refresh_ms``.  ``who`` is the
        principal it is for: a login session's name and logout button go in the header."""
        session = who if who is not None and who.via == "session" else None
        page = render("page.html", page=self, refresh_ms=refresh_ms, session=session)
        return str(page) + "\n"
