"""Verification of generated drafts: every sentence must cite a clause that was given and that supports it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.lexical import mentioned, tokenize
from rag.prompts import is_refusal

CITATION = re.compile(r"\[(\d{1,2})\]")
# Share of a sentence's content words that its cited clause must contain (calibrated on the seed dev set).
MIN_SUPPORT = 0.6


# Words that change what a clause commits to ("deletes all data immediately", "keeps it for 30 days"). The lexical
# check lets one unsupported word through in a short sentence; a draft sentence may use these only when a clause
# it cites uses them too (a number must appear as is; a long word may differ in its ending: immediate/immediately).
_SPECIFIC = re.compile(
    r"(?i)\b(?:immediately|instantly|promptly|permanently|irreversibly|forever|never|always|all|every|none|entirely|"
    r"completely|fully|automatically|guarantee[sd]?|\d+(?:[.,]\d+)?)\b"
)


def unsupported_specifics(sentence: str, clause_texts: list[str]) -> list[str]:
    """Absolute qualifiers and numbers of a draft sentence that none of its cited clauses contains."""
    present = " ".join(clause_texts).lower()
    missing = []
    for word in dict.fromkeys(m.group(0).lower() for m in _SPECIFIC.finditer(sentence)):
        stem = word if len(word) <= 5 or word[0].isdigit() else word[: max(5, len(word) - 3)]
        pattern = rf"(?<![\w.,]){re.escape(stem)}(?![\d])" if word[0].isdigit() else rf"\b{re.escape(stem)}" + (r"\b" if stem == word else "")
        if not re.search(pattern, present):
            missing.append(word)
    return missing


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
    hits = sum(1 for w in words if mentioned(w, present))
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
        scores = {n: support_score(stripped, clauses[n]) for n in numbers}
        # one cited clause must both support the sentence and contain its qualifiers and numbers: support from one
        # clause and "30" from another would turn "we answer within 30 days" into a retention period
        grounded = any(s >= MIN_SUPPORT and not unsupported_specifics(text, [clauses[n]]) for n, s in scores.items())
        checked.append(CheckedSentence(text, numbers, max(scores.values(), default=0.0), grounded))
    return checked
