"""Small pure text helpers shared by ingest and rag (whitespace, language, sentences, slugs, hashes)."""

from __future__ import annotations

import hashlib
import re

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]")
_SENTENCE_BOUNDARY = re.compile(
    r"(?<=[.!?])['\")\]”’]*\s+(?=[\"“(\[]?[A-Z0-9•\u4e00-\u9fff])|(?<=[。！？；])\s*(?=\S)"
    # scraped text drops the space after a full stop ("… modify your cookies.If you turn cookies off, …"): a word
    # of lower-case letters, a stop, then a capitalised word (not "e.g.", "kim.cc" or "U.S.")
    r"|(?<=[a-z]{3}[.!?])(?=[A-Z][a-z]+\s)"
)
_ABBREVIATIONS = re.compile(r"\b(?:e\.g|i\.e|etc|Inc|Ltd|Co|Corp|Mr|Mrs|Ms|Dr|St|No|vs|U\.S|Rd|Ave|approx)\.$", re.IGNORECASE)


def normalize_ws(text: str) -> str:
    """Collapse all whitespace runs to single spaces (how clause text relates to the original span)."""
    return re.sub(r"\s+", " ", text).strip()


def detect_lang(text: str) -> str:
    """'zh' when CJK characters dominate the letters of `text`, else 'en'."""
    cjk = len(CJK.findall(text))
    latin = len(re.findall(r"[A-Za-z]", text))
    return "zh" if cjk and cjk * 2 >= latin else "en"


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """[start, end) spans of the sentences of text[start:end], trimmed of surrounding whitespace."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _SENTENCE_BOUNDARY.finditer(text, start, end):
        if _ABBREVIATIONS.search(text[max(cursor, match.start() - 8) : match.start()]):
            continue
        spans.append((cursor, match.start()))
        cursor = match.end()
    spans.append((cursor, end))
    trimmed = []
    for s, e in spans:
        piece = text[s:e]
        if piece.strip():
            s += len(piece) - len(piece.lstrip())
            e -= len(piece) - len(piece.rstrip())
            trimmed.append((s, e))
    return trimmed


def slugify(text: str, max_words: int = 6) -> str:
    """Lower-case ASCII slug of at most `max_words` words ('' when nothing ASCII is left)."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words[:max_words])


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ends_with_colon(text: str) -> bool:
    """Whether `text` introduces what follows it ("contact us at:", "in the following cases:"): a final colon, ASCII or
    full-width."""
    return text.rstrip().endswith((":", "："))


def word_count(text: str) -> int:
    """Words for English; CJK characters count as ~1/2 word each so Chinese clauses size sensibly."""
    return len(re.findall(r"[A-Za-z0-9]+", text)) + len(CJK.findall(text)) // 2
