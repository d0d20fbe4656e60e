"""The store's version (it keys the BM25 index) is read from Chroma at most once per store_check_s, yet a change
made through the same Store shows at once and one made by another process about that much later (a background
refresh: no caller waits for the ledger scan)."""

from __future__ import annotations

import time

from clausewise.store import LedgerEntry, Store
from clausewise.types import DocumentInfo


def _entry(doc_id: str, file_hash: str) -> LedgerEntry:
    info = DocumentInfo(doc_id=doc_id, vendor=doc_id.title(), source_file=f"{doc_id}.txt", title=doc_id, aliases=(doc_id,))
    return LedgerEntry(info, file_hash, "done", 0, ("en",), "text", "")


def test_version_changes_at_once_locally_and_within_the_check_interval_elsewhere(settings_factory) -> None:
    settings = settings_factory(store_check_s=0.5)
    store, other = Store(settings), Store(settings)  # `other` stands for another process on the same store
    empty = store.version()
    store.mark(_entry("acme", "h1"))
    first = store.version()
    assert first != empty  # our own write: seen at once
    assert other.version() == first
    store.mark(_entry("acme", "h2"))
    assert other.version() == first  # trusted for store_check_s ...
    time.sleep(0.6)
    deadline = time.monotonic() + 5  # ... then refreshed in the background
    while other.version() == first and time.monotonic() < deadline:
        time.sleep(0.05)
    assert other.version() == store.version() != first
    other.remove_document("acme")
    assert other.version() == empty
