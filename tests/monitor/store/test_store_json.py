"""The store's JSON columns, written by orjson where it is installed and by the standard
library's encoder where it is not (src/tether/monitor/store/_json.py): the same values
read back, keys in the same order, and a store that runs on the fallback.  Nothing is
mocked: the fallback runs in a fresh interpreter where orjson cannot be imported."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.docs_blocks import ROOT, blocks, run_console, steps
from tether.monitor.store import ProbeRecord, SQLiteStore
from tether.monitor.store import _json as store_json

T0 = 1_700_000_000.0

_BEFORE = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
"""The SQLite store's encoder before orjson."""

_odd_text = st.sampled_from(["\udc80", "a\ud800b", "\x00", "é", "\u2028", "😀", '"\\'])
_text = st.text(max_size=12) | _odd_text
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # past 64 bits too, which orjson refuses
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
_documents = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=24,
)


def _read(text: str) -> Any:
    """``text``'s value with every object as its list of pairs: the keys' order counts."""
    return json.loads(text, object_pairs_hook=lambda pairs: ("object", pairs))


@settings(max_examples=400, deadline=None)
@given(_documents)
def test_orjson_writes_the_values_the_standard_library_wrote(document: Any) -> None:
    """Every document reads back from orjson's text as from the standard library's: the
    same values, the SQLite store's keys sorted and the PostgreSQL store's in their order
    (lone surrogates, NULs, non-ASCII text, integers past 64 bits and floats of every size
    included)."""
    pytest.importorskip("orjson")
    assert store_json.ENGINE == "orjson"
    assert _read(store_json.sorted_json(document)) == _read(_BEFORE.encode(document))
    assert _read(store_json.plain_json(document)) == _read(json.dumps(document, ensure_ascii=False))


def test_what_orjson_cannot_write_goes_to_the_standard_library() -> None:
    """An integer past 64 bits, a lone surrogate and a key that is not text are written
    as before, character for character, where orjson would raise."""
    pytest.importorskip("orjson")
    for document in ({"n": 2**64}, {"s": "\udc80"}, {1: "one"}):
        assert store_json.sorted_json(document) == _BEFORE.encode(document)
        assert store_json.plain_json(document) == json.dumps(document, ensure_ascii=False)


def test_a_non_finite_float_reads_back_as_before(tmp_path: Path) -> None:
    """orjson writes a non-finite float as ``null`` where the standard library wrote
    ``Infinity`` (which is not JSON): a result holding one reads back the same as before,
    without that phase, which was never a duration."""
    pytest.importorskip("orjson")
    assert store_json.sorted_json({"x": math.inf}) == '{"x":null}'
    with SQLiteStore(tmp_path / "t.db") as store:
        store.record(ProbeRecord("api", T0, True, latency_ms=3.0, phases={"dns": math.inf}))
        store.record(ProbeRecord("api", T0 + 1, True, latency_ms=3.0, phases={"dns": 1.5}))
        store.flush()
        read = store.results("api")
    assert [r.phases for r in read] == [{"dns": 1.5}, {}]


_FALLBACK = textwrap.dedent(
    """
    import sys
    sys.modules["orjson"] = None  # as if no wheel: `import orjson` raises ImportError
    from pathlib import Path
    from tether.monitor.store import ProbeRecord, SQLiteStore
    from tether.monitor.store import _json

    assert _json.ENGINE == "json", _json.ENGINE
    state = {"baseline": {"window": [0.5865519960934762, 1e-05]}, "name": "é", "n": 2**70}
    with SQLiteStore(Path(sys.argv[1])) as store:
        store.record(ProbeRecord("api", 1.7e9, True, latency_ms=3.0, phases={"dns": 1.25}))
        store.save_state("api", state)
        store.flush()
        assert store.results("api")[0].phases == {"dns": 1.25}
        assert store.load_state(["api"])["api"] == state
    print("ok")
    """
)


def test_the_store_runs_where_orjson_is_not_installed(tmp_path: Path) -> None:
    """Without orjson (a platform it has no wheel for), the store writes and reads its
    JSON columns with the standard library's encoder."""
    done = subprocess.run(
        [sys.executable, "-c", _FALLBACK, str(tmp_path / "t.db")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_installs_line_prints_the_stores_json_engine(tmp_path: Path) -> None:
    """install.md's line printing the store's JSON engine prints this machine's."""
    (block,) = [b for b in blocks("install.md", "console") if "_json import ENGINE" in b]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for (command, printed), (_, shown) in zip(
        run_console(block, tmp_path, env), steps(block), strict=True
    ):
        assert printed == shown == [store_json.ENGINE], command


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=12)))
def test_sqlites_json_functions_read_the_names_as_before(names: list[str]) -> None:
    """The SQLite store selects monitors by a list of names read by ``json_each``: its
    UTF-8 text from orjson gives SQLite the names the ASCII escapes gave (non-ASCII,
    quotes, backslashes, line separators, characters past the BMP), each name as written
    but for SQLite's own limit, a NUL (both texts escape it alike)."""
    conn = sqlite3.connect(":memory:")
    try:
        read = [
            [row[0] for row in conn.execute("SELECT value FROM json_each(?)", (text,))]
            for text in (store_json.sorted_json(names), _BEFORE.encode(names))
        ]
    finally:
        conn.close()
    assert read[0] == read[1]
    if not any("\x00" in name for name in names):
        assert read[0] == names
