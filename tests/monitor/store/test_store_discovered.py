"""The discovered set's rows on both backends (``target``: SQLite and PostgreSQL,
tests/conftest.py): a change written in one transaction, names dropped, a source's set
written whole, the sets of sources taken out of the file dropped."""

from __future__ import annotations

from tests.helpers.stores import open_target
from tether.monitor.store import DiscoveredRow, SourceRow, Store


def test_the_set_is_changed_by_what_changed_and_dropped_with_its_source(target: str) -> None:
    """Rows put and names removed change a source's set alone; ``whole`` replaces it;
    dropping the sources not kept removes their rows and their source rows."""
    with open_target(target) as store:
        _story(store)


def _story(store: Store) -> None:
    a1 = DiscoveredRow("a", "a/1", "127.0.0.1:81", {"team": "pay", "__meta_url": "u"})
    a2 = DiscoveredRow("a", "a/2", "127.0.0.1:82", {}, gone_since=1.8e9)
    b1 = DiscoveredRow("b", "b/1", "127.0.0.1:91", {})
    store.save_discovered(SourceRow("a", 1.0, 2.0), [a1, a2], ())
    store.save_discovered(SourceRow("b", 1.0, None), [b1], ())
    store.flush()
    assert store.discovered() == [a1, a2, b1]
    assert store.discovered(["b"]) == [b1]
    back = DiscoveredRow("a", "a/2", "127.0.0.1:82", {})
    store.save_discovered(SourceRow("a", 3.0, 3.0), [back], ["a/1"])
    store.flush()
    assert store.discovered(["a"]) == [back]
    assert store.discovery_sources() == [SourceRow("a", 3.0, 3.0), SourceRow("b", 1.0, None)]
    store.save_discovered(SourceRow("a", 4.0, 4.0), [a1], (), whole=True)
    store.drop_discovery_sources(["a"])
    store.flush()
    assert store.discovered() == [a1]
    assert store.discovery_sources() == [SourceRow("a", 4.0, 4.0)]
