"""The parts of ``tether.Session``'s fast path, each alone and without a network, in
instructions a call (issue 46 §5): what bench_instructions.py's one figure is made of.

Run: python benchmarks/bench_fastpath_parts.py [--mypyc]

With ``--mypyc``, the same parts of a copy of ``src`` whose guard and cutoff modules
mypyc compiled (``benchmarks/_mypyc.py``; tether installs as pure Python).

Each part runs in a fresh interpreter under callgrind, 100 times to warm up and then 1,000
and 3,000 times inside ``functools.reduce``, which alone is counted
(``--toggle-collect``); a part's figure is the difference over 2,000 calls less an empty
loop's.  Needs valgrind.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import shutil
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from threading import get_ident

from _callgrind import collected  # benchmarks/ is the script's own directory
from _mypyc import GUARD_PATH, compiled_copy

SRC = Path(__file__).resolve().parents[1] / "src"
URL = "http://127.0.0.1:8080/"


def parts() -> dict[str, Callable[[], object]]:
    """Each part, as a function making it once."""
    import requests

    import tether
    from tether._retry._loop import endpoint_key, fast_succeeded
    from tether.integrations import _cutoff
    from tether.integrations import requests as treq

    guard = tether.Session().guard
    sock = socket.socket()

    def guard_part() -> None:
        first = guard.fast_first(endpoint_key(URL))
        assert first is not None
        fast_succeeded(guard, first, "GET", 200)

    def cutoff_part() -> None:
        me = get_ident()
        timer = treq._timers.get(me) or _cutoff.timer(me)
        timer.arm(guard.first_timeouts.total)
        treq._timers[get_ident()].watch(sock)
        timer.disarm()

    def swapped() -> None:
        r = requests.Response()
        if type(r) is requests.Response:
            r.__class__ = treq._Response

    return {
        "empty": lambda: None,
        "guard": guard_part,
        "cutoff": cutoff_part,
        "response": requests.Response,
        "response+swap": swapped,
    }


def count(part: str, n: int, src: Path = SRC) -> int:
    env = {"PYTHONPATH": str(src)}
    return collected(__file__, ["--part", part, str(n)], env, "functools_reduce")


def main() -> int:
    if sys.argv[1:2] == ["--part"]:
        f = parts()[sys.argv[2]]
        for _ in range(100):
            f()
        gc.collect()
        functools.reduce(lambda _, __: f(), range(int(sys.argv[3])), None)
        return 0
    if shutil.which("valgrind") is None:
        print("needs valgrind (apt-get install valgrind)")
        return 2
    with contextlib.ExitStack() as stack:
        src = SRC
        if sys.argv[1:2] == ["--mypyc"]:  # the guard's and the cutoff's modules compiled
            src = stack.enter_context(compiled_copy(SRC, GUARD_PATH))
            print(f"mypyc: {', '.join(GUARD_PATH)} compiled")
        per = {p: (count(p, 3000, src) - count(p, 1000, src)) / 2000 for p in parts()}
    print(f"empty loop: {per['empty']:,.0f} instructions a call")
    print(f"guard (admission, success, endpoint key): {per['guard'] - per['empty']:,.0f}")
    print(f"cutoff (armed, found, watched, disarmed): {per['cutoff'] - per['empty']:,.0f}")
    print(f"redacting response class: {per['response+swap'] - per['response']:,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
