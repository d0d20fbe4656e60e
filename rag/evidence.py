"""Sentence-level evidence: split retrieved clauses into sentences, score each against the question, and judge
whether the best evidence actually answers what is asked (the asked attribute: a period, a name, an e-mail...)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from clausewise.embedding import Embedder
from clausewise.text import normalize_ws, sentence_spans
from clausewise.types import ScoredChunk
from rag.lexical import SYNONYMS, tokenize

# Words that say nothing about what is asked in a privacy question.
GENERIC = frozenset(tokenize("information data personal collect use service services user users inform", keep_stopwords=True))

# Scoring weights and thresholds, calibrated on tests/fixtures/seed_dev.jsonl (see docs/evaluation.md).
WEIGHT_DENSE, WEIGHT_LEXICAL, WEIGHT_RETRIEVAL = 0.55, 0.30, 0.15
MIN_COVERAGE = 0.5  # share (idf-weighted) of the question's content words that the evidence clause must cover
MIN_DENSE = 0.55  # ...unless the sentence is this similar to the question
COMPANION_RATIO = 0.9  # further sentences must score at least this share of the best one


@dataclass(frozen=True)
class Sentence:
    """One sentence of a retrieved clause, with offsets into the original file."""

    scored: ScoredChunk
    start: int
    end: int
    text: str
    score: float = 0.0
    dense: float = 0.0
    coverage: float = 0.0


def content_tokens(question: str, vendor_tokens: set[str]) -> list[str]:
    return [t for t in dict.fromkeys(tokenize(question)) if t not in GENERIC and t not in vendor_tokens]


def coverage(question_tokens: list[str], text: str, idf: dict[str, float]) -> float:
    """IDF-weighted share of question tokens present in `text` (a synonym counts as present)."""
    if not question_tokens:
        return 1.0
    present = set(tokenize(text))
    total = hit = 0.0
    for token in question_tokens:
        weight = idf.get(token, max(idf.values(), default=1.0))
        total += weight
        if token in present or SYNONYMS.get(token, set()) & present:
            hit += weight
    return hit / total if total else 1.0


def split_sentences(scored: list[ScoredChunk], raw_texts: dict[str, str]) -> list[Sentence]:
    sentences = []
    for item in scored:
        raw = raw_texts.get(item.chunk.doc_id, "")
        for start, end in sentence_spans(raw, item.chunk.start, item.chunk.end) if raw else []:
            text = normalize_ws(raw[start:end])
            if len(text) >= 3:
                sentences.append(Sentence(item, start, end, text))
    return sentences


def score_sentences(
    question: str, sentences: list[Sentence], embedder: Embedder, idf: dict[str, float], vendor_tokens: set[str]
) -> list[Sentence]:
    """Sentences sorted by a blend of embedding similarity, lexical coverage and clause retrieval score."""
    if not sentences:
        return []
    vectors = embedder.embed([question] + [s.text for s in sentences])
    sims = vectors[1:] @ vectors[0]
    q_tokens = content_tokens(question, vendor_tokens)
    scored = []
    for sentence, sim in zip(sentences, sims, strict=True):
        heading = " ".join(sentence.scored.chunk.section_path)
        lexical = coverage(q_tokens, heading + " " + sentence.text, idf)
        clause_cov = coverage(q_tokens, sentence.scored.chunk.embed_text, idf)
        score = WEIGHT_DENSE * float(sim) + WEIGHT_LEXICAL * lexical + WEIGHT_RETRIEVAL * sentence.scored.score
        scored.append(Sentence(**{**sentence.__dict__, "score": score, "dense": float(sim), "coverage": clause_cov}))
    return sorted(scored, key=lambda s: -s.score)


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|thirty|sixty|ninety)\b", re.I)
_NOT_NAMES = frozenset(
    ["privacy", "officer", "data", "protection", "policy", "personal", "information", "services", "service", "company", "terms", "united", "states", "european", "general", "regulation", "california", "consumer", "act", "civil", "code", "our", "the", "we", "you", "if", "for"]
)


def asked_attribute(question: str) -> str | None:
    """What kind of value the question asks for, when it asks for a specific one."""
    q = question.lower()
    if re.search(r"\be-?mail\b", q) and re.search(r"\b(what|which|give|address)\b", q):
        return "email"
    if re.search(r"\bhow many\b|\bhow much\b|\bwhat percentage\b|\bnumber of (days|months|years)\b", q):
        return "number"
    if re.search(r"\b(name of|who is the|named)\b", q) and re.search(r"\b(officer|dpo|person|representative|contact)\b", q):
        return "name"
    return None


def has_attribute(kind: str, text: str) -> bool:
    if kind == "email":
        return bool(_EMAIL.search(text))
    if kind == "number":
        return bool(_NUMBER.search(text))
    if kind == "name":
        for match in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)+)", text):
            if not set(match.group(1).lower().split()) <= _NOT_NAMES:
                return True
        return False
    return True


def answers_question(question: str, best: Sentence, supporting: list[Sentence]) -> tuple[bool, str]:
    """Does the evidence address what is asked? Returns (answered, reason when not)."""
    kind = asked_attribute(question)
    if kind and not any(has_attribute(kind, s.text) for s in supporting):
        return False, f"the policy gives no {'e-mail address' if kind == 'email' else kind} for this"
    if best.coverage < MIN_COVERAGE and best.dense < MIN_DENSE:
        return False, "no clause addresses what is asked"
    return True, ""


def idf_table(token_lists: list[list[str]]) -> dict[str, float]:
    """Inverse document frequency of every token over the store's chunks."""
    df: dict[str, int] = {}
    for tokens in token_lists:
        for token in set(tokens):
            df[token] = df.get(token, 0) + 1
    n = max(1, len(token_lists))
    return {t: math.log(1 + n / c) for t, c in df.items()}


def pick_sentences(ranked: list[Sentence], limit: int = 3) -> list[Sentence]:
    """The best sentence plus close runners-up, in document order."""
    if not ranked:
        return []
    best = ranked[0]
    chosen = [best] + [s for s in ranked[1:] if s.score >= best.score * COMPANION_RATIO][: limit - 1]
    return sorted(chosen, key=lambda s: (s.scored.chunk.doc_id, s.start))

