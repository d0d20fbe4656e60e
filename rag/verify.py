"""Verification of generated drafts: every sentence must cite a clause that was given and that supports it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.lexical import SYNONYMS, tokenize
from rag.prompts import is_refusal

CITATION = re.compile(r"\[(\d{1,2})\]")
# Share of a sentence's content words that its cited clause must contain (calibrated on the seed dev set).
MIN_SUPPORT = 0.6


@dataclass(frozen=True)
class CheckedSentence:
    text: str  # without citation markers
    citations: tuple[int, ...]  # valid numbers only
    support: float
    supported: bool


def split_draft(draft: str) -> list[str]:
    """Sentences of a draft answer, keeping each sentence's trailing [n] markers with it."""
    # a split never leaves a "[n]" to start the next piece: "... needed. [1]" at the very end stays one sentence
    parts = re.split(r"(?<=[.!?])((?:\s*\[\d{1,2}\])*)\s+(?!\[)", draft.strip())
    sentences, i = [], 0
    while i < len(parts):
        sentence = parts[i] + (parts[i + 1] if i + 1 < len(parts) else "")
        if sentence.strip():
            sentences.append(sentence.strip())
        i += 2
    return sentences


def support_score(sentence: str, clause_text: str) -> float:
    """Share of the sentence's content words found in the clause (synonyms count)."""
    words = [t for t in dict.fromkeys(tokenize(sentence)) if not t.isdigit() or len(t) > 1]
    if not words:
        return 1.0
    present = set(tokenize(clause_text))
    hits = sum(1 for w in words if w in present or SYNONYMS.get(w, set()) & present)
    return hits / len(words)


def check_draft(draft: str, clauses: dict[int, str], vendor_words: set[str]) -> list[CheckedSentence]:
    """Each draft sentence with its valid citations and whether the cited clauses support it."""
    checked = []
    for sentence in split_draft(draft):
        numbers = tuple(dict.fromkeys(int(n) for n in CITATION.findall(sentence) if int(n) in clauses))
        text = CITATION.sub("", sentence).strip()
        text = re.sub(r"\s+([.!?,;])", r"\1", text)
        if not text:
            continue
        if is_refusal(text):
            checked.append(CheckedSentence(text, numbers, 1.0, False))
            continue
        stripped = " ".join(w for w in text.split() if w.lower().strip(".,'’s") not in vendor_words)
        support = max((support_score(stripped, clauses[n]) for n in numbers), default=0.0)
        checked.append(CheckedSentence(text, numbers, support, bool(numbers) and support >= MIN_SUPPORT))
    return checked
