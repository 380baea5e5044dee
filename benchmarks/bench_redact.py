"""How long redaction takes on its worst input, before and after it was made linear.

Run: PYTHONPATH=src python benchmarks/bench_redact.py

The input is one long run of letters with no ``://`` (a server's illegal header line,
a configuration value): the old scheme pattern tried every position of the run, so its
time grew with the square of the length.  The old pattern is timed on its own up to
32 KB (beyond that it takes minutes); tether's redact_text, every pattern included and
the 64 KiB bound applied, up to 1 MB.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from tether._redact import _USERINFO, redact_text

OLD_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s?#]*)@")


def timed(f: Callable[[str], object], text: str) -> float:
    started = time.perf_counter()
    f(text)
    return time.perf_counter() - started


def main() -> None:
    print("| input | old scheme pattern | scheme pattern now | redact_text now (words) |")
    print("|---|---|---|---|")
    for size in (16 << 10, 32 << 10, 1 << 20):
        letters = "a" * size
        words = "ab " * (size // 3)
        old = (
            f"{timed(lambda t: OLD_USERINFO.sub('', t), letters):.2f} s"
            if size <= 32 << 10
            else "-"
        )
        now = timed(lambda t: _USERINFO.sub("", t), letters)
        text = timed(redact_text, words)
        print(f"| {size >> 10} KB | {old} | {now * 1000:.1f} ms | {text * 1000:.1f} ms |")


if __name__ == "__main__":
    main()
