"""Configuration files written to hurt the loader, each with the one line it loads to.

Each was reproduced against the loader before it was bounded: the alias bomb took over
30 s and 1.5 GB, the deep flow lists raised RecursionError (100,000 levels crashed
libyaml's composer outright), the long depends_on cycle raised RecursionError, and the
400-digit timeout raised OverflowError; a lone surrogate raised UnicodeEncodeError, a
400-digit interval OverflowError, and the allowed targets, the name and the webhook below
passed."""

from __future__ import annotations

URL = "http://127.0.0.1:9/"
MONITOR = f"monitors:\n  - name: api\n    url: {URL}\n"


def alias_bomb(levels: int = 9) -> str:
    """A "billion laughs": each level a list of nine aliases of the level before."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, levels):
        lines.append(f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\nmonitors: *l{levels - 1}\n"


def chain(n: int, *, cycle: bool) -> str:
    """``n`` monitors, each depending on the next; the last on the first with ``cycle``."""
    lines = ["monitors:"]
    for i in range(n):
        parent = f"m{i + 1}" if i < n - 1 else ("m0" if cycle else None)
        depends = f", depends_on: {parent}" if parent else ""
        lines.append(f"  - {{name: m{i}, url: '{URL}'{depends}}}")
    return "\n".join(lines) + "\n"


HOSTILE: dict[str, tuple[str, str]] = {
    "alias bomb": (alias_bomb(), "aliases expand to too many values"),
    "flow lists 100,000 deep": (
        "monitors: " + "[" * 100_000 + "]" * 100_000 + "\n",
        ":1:74: nested more than 64 levels deep",
    ),
    "flow mappings 5,000 deep": (
        "monitors: " + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n",
        "nested more than 64 levels deep",
    ),
    "block lists 1,000 deep": (
        "monitors:\n" + "".join("  " * i + "-\n" for i in range(1, 1_000)),
        ":65:129: nested more than 64 levels deep",
    ),
    "aliases nesting past the bound": (
        # Each list is 40 deep, within the bound; the second holds the first.
        "a: &a "
        + "[" * 40
        + "1"
        + "]" * 40
        + "\nb: &b "
        + "[" * 40
        + "*a"
        + "]" * 40
        + "\n"
        + MONITOR,
        "is nested more than 64 levels deep",
    ),
    "a depends_on cycle of 1,000": (
        chain(1_000, cycle=True),
        "dependency cycle: m0 -> m1 -> m2 -> ... 995 more ... -> m998 -> m999 -> m0",
    ),
    "a 400-digit timeout": (
        MONITOR + f"    timeout: {'9' * 400}s\n",
        "is too long: the longest duration is 36500d",
    ),
    "a file of 25,000,001 characters": (
        MONITOR + "#" * 25_000_001 + "\n",
        "larger than 25,000,000 characters",
    ),
    "a stray ] in a condition": (
        MONITOR + '    conditions: ["[STATUS] == 200]"]\n',
        "']' at column 16 closes nothing",
    ),
    "Arabic-Indic digits in a duration": (
        MONITOR + "    interval: ١٢s\n",
        "write its number with the digits 0-9",
    ),
    "fullwidth digits in a duration": (
        MONITOR + "    interval: ３０s\n",
        "write its number with the digits 0-9",
    ),
    "a repeated unit": (MONITOR + "    interval: 1s1s\n", "write each unit once"),
    "a threshold of true": (
        MONITOR + "    failure_threshold: true\n",
        "true is not a whole number",
    ),
    "a threshold of 10**29": (
        MONITOR + f"    failure_threshold: {10**29}\n",
        "is too large: the maximum is 1000000",
    ),
    "a latency margin of .nan": (
        MONITOR + "    latency_margin: .nan\n",
        "nan is not a finite number",
    ),
    "listen on 999.1.1.1": (
        "server: {listen: '999.1.1.1:80'}\n" + MONITOR,
        "'999.1.1.1' is not an IP address, and a name cannot end in a number",
    ),
    "a host of 300 characters": (
        f"monitors:\n  - name: api\n    url: http://{'a' * 59}.{'b' * 59}.{'c' * 59}.{'d' * 59}"
        f".{'e' * 59}/\n",
        "the name has 299 characters; the most is 253",
    ),
    "a lone surrogate as an interval": (
        MONITOR + '    interval: "\\ud800"\n',
        "monitors[0].interval: holds a lone surrogate, which is not a character (U+D800) at "
        "character 1",
    ),
    "a 400-digit interval": (
        MONITOR + f"    interval: {'9' * 400}\n",
        "monitors[0].interval: is a number 400 characters long: no key takes one",
    ),
    "a 5,000-digit threshold": (
        MONITOR + f"    failure_threshold: {'9' * 5000}\n",
        "monitors[0].failure_threshold: is a number 5,000 characters long",
    ),
    "an allowed target of [[[[[[[[[[": (
        "probe:\n  allowed_targets: '[[[[[[[[[['\n" + MONITOR,
        "probe.allowed_targets[0]: '[[[[[[[[[[' is not a host name pattern: '[' cannot be "
        "in a host name",
    ),
    "an allowed target of 200,000 characters": (
        "probe:\n  allowed_targets: '" + "a*" * 100_000 + "'\n" + MONITOR,
        "is not a host name pattern: 200,000 characters, and a host name has 253 at most",
    ),
    "a right-to-left override in a monitor's name": (
        'monitors:\n  - name: "api\\u202eprod"\n' + f"    url: {URL}\n",
        'monitors[0].name: "api\\u202eprod" contains a right-to-left override (U+202E) at '
        "character 4, which a name may not hold",
    ),
    "a webhook host with a label of 300 characters": (
        MONITOR + f"alerts:\n  - {{name: ops, type: webhook, url: 'http://{'a' * 300}.test/'}}\n",
        f"alerts[0].url: \"http://{'a' * 48}…\": its host: the label '{'a' * 39}…' must "
        "have 1 to 63 characters",
    ),
    "a label of 64 characters": (
        f"server: {{listen: '{'a' * 64}.example:80'}}\n" + MONITOR,
        "must have 1 to 63 characters",
    ),
}
