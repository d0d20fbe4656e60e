"""Chunking: clause-bounded chunks. Tiny clauses merge with a neighbour of the same section; long ones split by sentence."""

from __future__ import annotations

import re

from clausewise.text import normalize_ws, sentence_spans, sha256, word_count
from clausewise.types import Chunk, Clause
from ingest.structure import is_list_item


def section_label(section_path: tuple[str, ...]) -> str:
    """Human-readable section path, e.g. '3. Data Retention > 3.1'."""
    return " > ".join(section_path)


def embed_text_for(section_path: tuple[str, ...], text: str) -> str:
    """The contextual string that is embedded and BM25-indexed: headings, then the clause text."""
    headings = [p for p in section_path if not re.fullmatch(r"[\d.]+", p)]
    return (" > ".join(headings) + "\n" + text) if headings else text


def _make_chunk(doc_id: str, vendor: str, raw_text: str, clauses: list[Clause], start: int, end: int) -> Chunk:
    first = clauses[0]
    text = normalize_ws(raw_text[start:end])
    embed_text = embed_text_for(first.section_path, text)
    clause_ids = tuple(dict.fromkeys(c.clause_id for c in clauses))
    content_hash = sha256(embed_text)
    chunk_id = sha256(f"{doc_id}|{'|'.join(clause_ids)}|{start}|{content_hash}")[:32]
    return Chunk(
        chunk_id=chunk_id,
        doc_id=doc_id,
        vendor=vendor,
        lang=first.lang,
        section_path=first.section_path,
        clause_ids=clause_ids,
        start=start,
        end=end,
        text=text,
        embed_text=embed_text,
        content_hash=content_hash,
    )


def _split_long(clause: Clause, raw_text: str, max_words: int) -> list[tuple[int, int]]:
    """Sentence-aligned [start, end) pieces of a long clause, each at most ~max_words words."""
    pieces: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    for s, e in sentence_spans(raw_text, clause.start, clause.end):
        if current and word_count(raw_text[current[0] : e]) > max_words:
            pieces.append(current)
            current = None
        current = (current[0], e) if current else (s, e)
    if current:
        pieces.append(current)
    return pieces


def chunk_clauses(
    clauses: list[Clause], raw_text: str, vendor: str, min_words: int, max_words: int
) -> list[Chunk]:
    """Group clauses into chunks that never cross a section, merging tiny clauses and splitting oversized ones."""
    groups: list[list[Clause]] = []
    for clause in clauses:
        previous = groups[-1] if groups else None
        if previous is None or previous[-1].lang != clause.lang:
            groups.append([clause])
            continue
        previous_words = word_count(" ".join(c.text for c in previous))
        # "We collect the following:" belongs with the list items after it
        intro = previous[-1].text.endswith(":") and is_list_item(clause.text)
        same_section = previous[-1].section_path == clause.section_path
        fits = previous_words + word_count(clause.text) <= max_words
        if fits and (intro or (same_section and previous_words < min_words)):
            previous.append(clause)  # a tiny clause or list intro joins what follows it
        elif fits and same_section and word_count(clause.text) < min_words and not clause.text.endswith(":"):
            previous.append(clause)  # a tiny trailing clause joins the one before it
        else:
            groups.append([clause])
    chunks: list[Chunk] = []
    doc_id = clauses[0].doc_id if clauses else ""
    for group in groups:
        if len(group) == 1 and word_count(group[0].text) > max_words:
            for start, end in _split_long(group[0], raw_text, max_words):
                chunks.append(_make_chunk(doc_id, vendor, raw_text, group, start, end))
        else:
            chunks.append(_make_chunk(doc_id, vendor, raw_text, group, group[0].start, group[-1].end))
    return chunks
