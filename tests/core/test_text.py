"""The one gate for text from outside (``tether._text``, issue 72 §1): what it refuses,
where its walk says the refused text is, and how text stored before it is shown."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

from hypothesis import given
from hypothesis import strategies as st

from tether._text import dotted, shown, shown_within, text_faults, text_problem

ANY: st.SearchStrategy[str] = st.text(
    st.characters(exclude_categories=()) | st.characters(categories=["Cs"]), max_size=40
)


def test_what_the_gate_takes_and_refuses() -> None:
    """Line ends, tabs, right-to-left text and emoji are text; a lone surrogate, a control
    character, DEL, a C1 control and a noncharacter of any plane are not."""
    assert text_problem("Rolled back.\r\n\tשלום \u200f 🙂") is None
    for bad in ("\ud800", "\x00", "\x1b", "\x7f", "\x85", "\ufdd0", "\ufffe", "\U0010ffff"):
        assert text_problem(f"a{bad}") is not None, repr(bad)
    assert (
        text_problem("x\ud800")
        == "a lone surrogate, which is not a character (U+D800) at character 2"
    )


def test_the_walk_names_each_refused_text_in_the_documents_order() -> None:
    """Every refused string and field name, in order, with its path as a request names it."""
    document = {"reason": "ok", "results": [{"detail": "a\x00"}, {"host": "\uffff"}], "k\x01": 1}
    found = [(dotted(path), problem.split(" (")[0]) for path, problem in text_faults(document)]
    assert found == [
        ("", "a field's name holds a control character"),
        ("results[0].detail", "holds a control character"),
        ("results[1].host", "holds a noncharacter, which XML cannot carry"),
    ]
    assert dotted((0, "why"), "cannot_run") == "cannot_run[0].why"


@given(ANY)
def test_shown_text_passes_the_gate_and_any_page_can_carry_it(text: str) -> None:
    """Whatever a row holds, shown it passes the gate, encodes as UTF-8, is XML character
    data, and is the text itself when the gate takes it."""
    seen = shown(text)
    assert text_problem(seen) is None
    seen.encode("utf-8")
    lines = seen.replace("\r\n", "\n").replace("\r", "\n")  # as XML reads line ends
    assert (ET.fromstring(f"<a>{escape(seen)}</a>").text or "") == lines
    if text_problem(text) is None:
        assert seen == text


@given(st.recursive(ANY, lambda inner: st.lists(inner) | st.dictionaries(ANY, inner)))
def test_a_stored_document_shown_is_json_a_page_can_carry(document: object) -> None:
    """A document read back from a store (a lone surrogate's escape in a JSON column)
    shown whole has nothing left for the gate to refuse: it writes as UTF-8 JSON."""
    seen = shown_within(document)
    assert next(text_faults(seen), None) is None
    json.dumps(seen, ensure_ascii=False).encode("utf-8")
