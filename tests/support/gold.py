"""Gold-quote helpers shared by the answer, refusal and multilingual tests: where a quote lies in a policy file, and
whether retrieved chunks cover it."""

from __future__ import annotations

import re

from clausewise.text import normalize_ws


def quote_span(text: str, quote: str) -> tuple[int, int] | None:
    """[start, end) of a gold quote in `text`; any run of whitespace in the quote matches any other."""
    pattern = r"\s+".join(re.escape(w) for w in normalize_ws(quote).split(" "))
    match = re.search(pattern, text)
    return (match.start(), match.end()) if match else None


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
