"""``tether update`` and ``tether subscribers`` (issue 48; docs/status-pages.md).

- ``tether update ID --state STATE TEXT``: post an update on an incident through the
  running monitor's API (``POST /api/incidents/ID/updates``, the write scope); exit codes
  as for ``tether pause``: 0 done, 2 bad input, 3 no server answers, 4 not allowed.
- ``tether subscribers export [--page SLUG]``: every subscriber of the store as JSON on
  standard output (addresses, tokens and webhook secrets: keep the file as the
  credentials it holds); ``tether subscribers import FILE``: add those of an export
  (an address a page has already is left as it is).  Both read the configuration's
  store, as ``tether status`` does; exit 2 with one line for a file that is not an
  export or names a page that takes no subscribers.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, Final

from tether.cli._remote import ask
from tether.cli._shared import (
    EXIT_OK,
    EXIT_USAGE,
    Command,
    config_option,
    print_json,
    server_options,
    with_config,
)

if TYPE_CHECKING:
    from tether.cli._shared import Commands
    from tether.monitor.store._subscribers import Subscriber

__all__ = ["SUBSCRIBERS", "UPDATE"]

EXPORT_VERSION: Final = 1
STATES: Final = ("investigating", "identified", "monitoring", "resolved")


def _update_parser(commands: Commands) -> None:
    update = commands.add_parser(
        "update",
        help="post an update on an incident for the status pages and their subscribers",
        description="Post an update on incident ID through the running monitor's API: the "
        "status pages that show the incident show it, and their subscribers are told it.  "
        "Exit codes as for tether pause.",
    )
    update.add_argument("incident", type=int, metavar="ID", help="the incident's number")
    update.add_argument("--state", required=True, choices=STATES, help="where the team is")
    update.add_argument("text", metavar="TEXT", help="what the users are told (quote it)")
    server_options(update)


def _update(args: argparse.Namespace) -> int:
    call = (
        "POST",
        f"/api/incidents/{args.incident}/updates",
        {"state": args.state, "text": args.text},
    )
    answered = ask(args, "update", call)
    if isinstance(answered, int):
        return answered
    _, doc = answered
    if args.json:
        print_json(doc)
    else:
        print(f"update {doc['id']} posted to incident {doc['incident']}: {doc['state']}")
    return EXIT_OK


def _subscribers_parser(commands: Commands) -> None:
    subscribers = commands.add_parser(
        "subscribers",
        help="export or import the status pages' subscribers",
        description="The subscribers of the status pages, in the configuration's store: "
        "export them as JSON (addresses, tokens and webhook secrets), or import an export.",
    )
    actions = subscribers.add_subparsers(
        dest="subscribers", metavar="ACTION", help="export or import", required=True
    )
    export = actions.add_parser(
        "export", help="every subscriber as JSON", description="Write the subscribers as JSON."
    )
    export.add_argument("--page", metavar="SLUG", help="only this page's")
    config_option(export)
    imported = actions.add_parser(
        "import", help="add the subscribers of an export", description="Import an export."
    )
    imported.add_argument("export_file", metavar="FILE", help="an export (- for standard input)")
    config_option(imported)


def _record(s: Subscriber) -> dict[str, Any]:
    return {
        "page": s.page,
        "kind": s.kind,
        "address": s.address,
        "token": s.token,
        "secret": s.secret,
        "created": s.created,
        "confirmed": s.confirmed,
    }


def _read(args: argparse.Namespace, pages: set[str]) -> list[Subscriber] | str:
    """The subscribers of the export ``args.export_file``, or why it is not one."""
    from tether.monitor.store._subscribers import Subscriber
    from tether.monitor.web.status._subscribe import valid_email

    try:
        if args.export_file == "-":
            doc = json.load(sys.stdin)
        else:
            with open(args.export_file, encoding="utf-8") as f:
                doc = json.load(f)
    except (OSError, ValueError) as exc:
        return f"cannot read {args.export_file}: {exc}"
    if not isinstance(doc, dict) or doc.get("version") != EXPORT_VERSION:
        what = f"an export of tether subscribers (version {EXPORT_VERSION})"
        return f"{args.export_file} is not {what}"
    out = []
    for i, r in enumerate(doc.get("subscribers") or []):
        at = f"subscribers[{i}]"
        try:
            page, kind, address, token = r["page"], r["kind"], r["address"], r["token"]
            created = float(r["created"])
            confirmed = None if r.get("confirmed") is None else float(r["confirmed"])
        except (KeyError, TypeError, ValueError):
            return f"{at}: give page, kind, address, token and created"
        if page not in pages:
            return f"{at}.page: no status page {page!r} takes subscribers in this configuration"
        if kind not in ("email", "webhook") or not isinstance(token, str) or len(token) < 32:
            return f"{at}: kind is email or webhook, and the token as exported"
        if kind == "email" and valid_email(str(address)) is None:
            return f"{at}.address: {str(address)[:80]!r} is not an e-mail address"
        secret = r.get("secret")
        out.append(Subscriber(0, page, kind, str(address), token, secret, created, confirmed))
    return out


def _subscribers(args: argparse.Namespace, path: str) -> int:
    from tether.cli._local import _open_store

    opened = _open_store(path, f"subscribers {args.subscribers}")
    if isinstance(opened, int):
        return opened
    config, store = opened
    with store:
        if args.subscribers == "export":
            found = store.subscribers(args.page)
            print_json({"version": EXPORT_VERSION, "subscribers": [_record(s) for s in found]})
            return EXIT_OK
        pages = {p.slug for p in config.status_pages if p.subscribe is not None}
        read = _read(args, pages)
        if isinstance(read, str):
            print(f"tether subscribers import: {read}", file=sys.stderr)
            return EXIT_USAGE
        added = store.import_subscribers(read)
    print(f"{added} subscribers imported ({len(read) - added} were there already)")
    return EXIT_OK


UPDATE = Command("update", _update_parser, _update)
SUBSCRIBERS = Command("subscribers", _subscribers_parser, with_config(_subscribers))
