"""Gold-quote helper shared by the answer and multilingual tests: whether retrieved chunks cover a quote (where a quote
lies in a policy file is rag.goldsets.locate, the eval harness's own locator)."""

from __future__ import annotations


def covered(results, span: tuple[str, int, int], raw: dict[str, str]) -> bool:
    """The retrieved chunks of the quote's document cover it, across adjacent chunks too (only whitespace between)."""
    doc, start, end = span
    cursor = start
    for a, b in sorted((r.chunk.start, r.chunk.end) for r in results if r.chunk.doc_id == doc):
        if b <= cursor:
            continue
        if raw[doc][cursor:a].strip():
            return False
        cursor = b
        if cursor >= end:
            return True
    return False
