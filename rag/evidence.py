"""Sentence-level evidence: split retrieved clauses into sentences, score each against the question, and judge
whether the best evidence actually answers what is asked (the asked attribute: a period, a name, an e-mail...)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from clausewise.embedding import Embedder
from clausewise.text import CJK, ends_with_colon, normalize_ws, sentence_spans
from clausewise.types import Chunk, ScoredChunk
from rag.asked import asked_attribute, has_attribute
from rag.lexical import GENERIC, QUESTION_WORD, STOPWORD_STEMS, mentioned, tokenize

# Sentence-scoring weights: chosen by cross-validated citation precision over the seed, written and PolicyQA tuning
# sets (docs/evaluation.md); the clause's retrieval score counts most. Whether the best sentence answers at all is
# decided in rag/answerability.py.
WEIGHT_DENSE, WEIGHT_LEXICAL, WEIGHT_RETRIEVAL = 0.25, 0.25, 0.50
GENERIC_WEIGHT = 0.5  # weight of a generic question word ("information", "data") in the lexical match
ATTRIBUTE_RATIO = 0.7  # a sentence carrying the asked kind of value (an e-mail for "which e-mail...") goes first
# when it scores at least this share of the best one
MAX_SENTENCES = 4  # most sentences quoted per vendor (a sentence ending in a colon may bring one more)
COMPANION_RATIO = 0.95  # a sentence of another clause must score at least this share of the best one to be quoted too
SAME_CLAUSE_RATIO = 0.75  # a further sentence of the best sentence's own clause needs this share
CJK_COMPANION_RATIO = 0.97  # Chinese sentences look alike to the (English) embedding model: be stricter
MAX_LIST_ITEMS = 12  # most items of a list quoted when a chosen sentence introduces one ("... in the following cases:")
COMPANION_GAP = 4  # characters: a companion from another section must come from the clause right before or after
INTRO_REACH = 200  # characters: how far after an intro ending in a colon the sentence it introduces may start


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
    """The question's words that say what is asked: no generic privacy words, vendor names or bare numbers."""
    return [t for t in dict.fromkeys(tokenize(question)) if t not in GENERIC and t not in vendor_tokens and not t.isdigit()]


# Verbs a question is phrased with that say nothing of its topic ("Which vendors let me …", "What happens to …",
# "Which policies mention …", "Can I ask Acme to …"): a policy without them is not missing anything the reader asked about.
_PHRASING_VERBS = frozenset(t for w in ("let", "lets", "happen", "happens", "want", "need", "know", "think", "mean",
                                        "mention", "explain", "describe", "talk", "ask", "tell", "say") for t in tokenize(w))




def words_absent_from(question: str, vendor_tokens: set[str], policy_tokens: frozenset[str] | set[str]) -> list[str]:
    """The question's content words (as the question spells them) that the policy never uses, in any inflection or
    as any synonym of the table: what a reader would find missing with the browser's search ("sell" in a policy
    that never mentions selling). Inflections of stopwords ("others", "vendors") and Chinese runs (their tokens are
    character pairs, not words) are left out."""
    asked = set(content_tokens(question, vendor_tokens))
    absent = []
    for match in QUESTION_WORD.finditer(question):
        stems = tokenize(match.group())
        if len(stems) != 1 or stems[0] not in asked or stems[0] in STOPWORD_STEMS or stems[0] in _PHRASING_VERBS:
            continue
        stem = stems[0]
        asked.discard(stem)  # each word once
        if not mentioned(stem, policy_tokens):
            absent.append(match.group())
    return absent


def rarest_terms(q_tokens: list[str], idf: dict[str, float], n: int) -> list[str]:
    """The question's n rarest content words: a word the store never contains (not a Chinese character pair) first,
    then by idf."""
    unknown = [t for t in q_tokens if t not in idf and not t.isdigit() and not CJK.match(t)]
    return (unknown + sorted((t for t in q_tokens if t in idf), key=lambda t: -idf[t]))[:n]


def without_word(question: str, stem: str) -> str:
    """`question` with every word whose stem is `stem` left out."""
    return QUESTION_WORD.sub(lambda m: "" if tokenize(m.group()) == [stem] else m.group(), question)


def _weight(token: str, idf: dict[str, float]) -> float:
    if token in idf:
        return idf[token]
    # a Chinese character pair the store never contains is a cut across two words ("息多"), not a topic
    return 0.0 if CJK.match(token) else max(idf.values(), default=1.0)


def coverage(
    question_tokens: list[str], text: str, idf: dict[str, float], generic: list[str] = (), context: str = ""
) -> float:
    """IDF-weighted share of question tokens present in `text` (a synonym counts as present). `generic` tokens
    count GENERIC_WEIGHT as much and only in `text`; the others may also be found in `context` (the headings)."""
    present = set(tokenize(text))
    return token_coverage(((question_tokens, 1.0, present | set(tokenize(context))), (generic, GENERIC_WEIGHT, present)), idf)


def token_coverage(groups, idf: dict[str, float]) -> float:
    """IDF-weighted share of tokens found: `groups` holds (tokens, weight factor, set of tokens to find them in)."""
    total = hit = 0.0
    for tokens, factor, found in groups:
        for token in tokens:
            weight = _weight(token, idf) * factor
            total += weight
            if mentioned(token, found):
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
    question: str, sentences: list[Sentence], embedder: Embedder, idf: dict[str, float], vendor_tokens: set[str],
    similarity_scale: Callable[[np.ndarray], np.ndarray] | None = None, translated: Sequence[str] = (),
) -> list[Sentence]:
    """Sentences sorted by a blend of embedding similarity, lexical coverage and clause retrieval score.
    `similarity_scale` maps the embedder's similarities onto the scale the weights were fitted on (across languages).
    `translated`: across languages, the English words the glossary gives for the question's concepts; the lexical
    match then reads them and the question's words the store knows ("Cookies", "GPS"), not words no policy uses."""
    if not sentences:
        return []
    vectors = embedder.embed([question] + [s.text for s in sentences])
    sims = vectors[1:] @ vectors[0]
    if similarity_scale is not None:
        sims = similarity_scale(sims)
    q_tokens = content_tokens(question, vendor_tokens)
    if translated:
        q_tokens = list(dict.fromkeys([t for t in q_tokens if t in idf] + [t for w in translated for t in tokenize(w)]))
    generic = [t for t in dict.fromkeys(tokenize(question)) if t in GENERIC]
    kind = asked_attribute(question)
    scored = []
    for sentence, sim in zip(sentences, sims, strict=True):
        heading = " ".join(sentence.scored.chunk.section_path)
        lexical = coverage(q_tokens, sentence.text, idf, generic, context=heading)
        clause_cov = coverage(q_tokens, sentence.scored.chunk.embed_text, idf)
        score = WEIGHT_DENSE * float(sim) + WEIGHT_LEXICAL * lexical + WEIGHT_RETRIEVAL * sentence.scored.hybrid_score
        scored.append(Sentence(**{**sentence.__dict__, "score": score, "dense": float(sim), "coverage": clause_cov}))
    scored.sort(key=lambda s: -s.score)
    if kind:
        # "which e-mail address...": the best sentence that gives one leads, unless it is much weaker
        floor = scored[0].score * ATTRIBUTE_RATIO
        scored.sort(key=lambda s: not (s.score >= floor and has_attribute(kind, s.text, question)))
    return scored


def idf_table(token_lists: list[list[str]]) -> dict[str, float]:
    """Inverse document frequency of every token over the store's chunks."""
    df: dict[str, int] = {}
    for tokens in token_lists:
        for token in set(tokens):
            df[token] = df.get(token, 0) + 1
    n = max(1, len(token_lists))
    return {t: math.log(1 + n / c) for t, c in df.items()}


def _related(a: Sentence, b: Sentence) -> bool:
    """Same document and either the same top-level section or neighbouring clauses (nothing but a line between)."""
    ca, cb = a.scored.chunk, b.scored.chunk
    if ca.doc_id != cb.doc_id:
        return False
    if ca.section_path[:1] and ca.section_path[:1] == cb.section_path[:1]:
        return True
    return 0 <= cb.start - ca.end <= COMPANION_GAP or 0 <= ca.start - cb.end <= COMPANION_GAP


def pick_sentences(ranked: list[Sentence], limit: int | None = None) -> list[Sentence]:
    """The best sentence plus close runners-up, in document order.

    A runner-up from the best sentence's own clause needs SAME_CLAUSE_RATIO of its score; one from another clause
    needs COMPANION_RATIO (CJK_COMPANION_RATIO for Chinese) and must share its section or neighbour its clause. A chosen
    sentence that ends with a colon ("contact us at:") brings the sentence it introduces.
    """
    if not ranked:
        return []
    limit = limit or MAX_SENTENCES
    best = ranked[0]
    clause = best.scored.chunk.clause_id
    chosen = [best]
    for s in ranked[1:]:
        if len(chosen) >= limit:
            break
        if s.scored.chunk.clause_id == clause:
            ratio = SAME_CLAUSE_RATIO
        elif not _related(best, s):
            continue
        else:
            ratio = CJK_COMPANION_RATIO if CJK.search(s.text) else COMPANION_RATIO
        if s.score >= best.score * ratio:
            chosen.append(s)
    by_position = sorted(ranked, key=lambda s: (s.scored.chunk.doc_id, s.start))
    for s in list(chosen):
        if ends_with_colon(s.text):
            following = next((n for n in by_position if n.scored.chunk.doc_id == s.scored.chunk.doc_id and n.start >= s.end), None)
            if following is not None and following not in chosen and _continues(s, following):
                chosen.append(following)
    return sorted(chosen, key=lambda s: (s.scored.chunk.doc_id, s.start))


def _continues(intro: Sentence, other: Sentence) -> bool:
    """`other` starts within INTRO_REACH characters after `intro`, in the same document: what the intro's colon
    introduces ("contact us at:" and the address)."""
    return other.scored.chunk.doc_id == intro.scored.chunk.doc_id and 0 <= other.start - intro.end <= INTRO_REACH


# A list item: a bullet, "1." / "(a)", or a short capitalised label followed by a colon ("Service Providers: ...").
_LIST_ITEM = re.compile(r"^\s*(?:[•●▪◦·*–-]\s|\(?\d{1,2}[.)]\s|\(?[a-z][.)]\s|[A-Z][\w ,'’&/()-]{1,60}:\s)")
_INTRODUCES_LIST = re.compile(r"[:：]\s*(?:[•●▪◦·*–-]\s.*)?$|[:：]\s*[•●▪◦·*–-]\s", re.S)


_ITEM_LABEL = re.compile(r"^\s*([A-Z][\w ,'’&/()-]{1,60})[:：]\s")
_BULLET = re.compile(r"(?:^|\s)[•●▪◦·*–-]\s")


def _label(text: str) -> set[str]:
    """The words of the list items' labels in a sentence ("• Account Information: ..." -> {"account"}), generic
    words left out."""
    labels = (_ITEM_LABEL.match(piece) for piece in _BULLET.split(text)[1:] or [text])
    return {t for m in labels if m for t in tokenize(m.group(1))} - GENERIC


def list_items_after(chunk: Chunk, following: dict[str, Chunk]) -> list[Chunk]:
    """The items of a list `chunk` introduces: the chunks right after it in its section that are list items (at most
    MAX_LIST_ITEMS)."""
    items: list[Chunk] = []
    current: Chunk | None = chunk
    while len(items) < MAX_LIST_ITEMS and (current := following.get(current.chunk_id)) is not None:
        if current.section_path != chunk.section_path or not _LIST_ITEM.match(current.text):
            break
        items.append(current)
    return items


def with_list_items(items: list[ScoredChunk], following: dict[str, Chunk]) -> list[ScoredChunk]:
    """`items` with, right after each clause that introduces a list ("... except in the following cases: • ..."), the
    list's items in their order (one retrieved further down moves up to its place): what a model reads holds the
    whole list, as the extractive answer quotes it (`complete_lists`)."""
    retrieved = {i.chunk.clause_id: i for i in items}
    placed: set[str] = set()
    context: list[ScoredChunk] = []
    for item in items:
        if item.chunk.clause_id in placed:
            continue
        placed.add(item.chunk.clause_id)
        context.append(item)
        if not _INTRODUCES_LIST.search(item.chunk.text):
            continue
        for chunk in list_items_after(item.chunk, following):
            if chunk.clause_id not in placed:
                placed.add(chunk.clause_id)
                context.append(retrieved.get(chunk.clause_id) or replace(item, chunk=chunk, lexical=0.0))
    return context


def complete_lists(chosen: list[Sentence], following: dict[str, Chunk], raw_texts: dict[str, str],
                   question_tokens: set[str] = frozenset()) -> list[Sentence]:
    """`chosen` plus the whole list a chosen sentence introduces ("... except in the following cases:"): the first
    sentence of every list item that follows in the same section (a nested list under an item comes with it). When
    the question names an item's label ("... when you create an account" and "Account Information: ..."), only the
    items so labelled are quoted. An intro ending in a colon with no list and nothing quoted after it is left out
    when other sentences remain."""
    if not chosen:
        return chosen
    have = {(s.scored.chunk.doc_id, s.start) for s in chosen}
    extra: list[Sentence] = []
    dangling: list[Sentence] = []  # "… answer these questions:" with nothing after it in the store (a table of contents)
    for sentence in chosen:
        if not _INTRODUCES_LIST.search(sentence.text):
            continue
        raw = raw_texts.get(sentence.scored.chunk.doc_id, "")
        items = list_items_after(sentence.scored.chunk, following)
        if not items and ends_with_colon(sentence.text) and not any(_continues(sentence, s) for s in chosen):
            dangling.append(sentence)
        for chunk in items:
            item = replace(sentence.scored, chunk=chunk, lexical=0.0)
            spans = sentence_spans(raw, chunk.start, chunk.end) if raw else []
            # an item's first sentence; all of it when that sentence introduces a nested list ("... necessary to:")
            nested = bool(spans) and normalize_ws(raw[spans[0][0] : spans[0][1]]).endswith(":")
            for start, end in spans if nested else spans[:1]:
                if (chunk.doc_id, start) not in have:
                    have.add((chunk.doc_id, start))
                    extra.append(Sentence(item, start, end, normalize_ws(raw[start:end])))
    quoted = chosen + extra
    if dangling and len(quoted) > len(dangling):
        # an intro whose list is not there tells the reader nothing, and ends the quote mid-statement
        quoted = [s for s in quoted if s not in dangling]
    if question_tokens and any((label := _label(s.text)) and label <= question_tokens for s in quoted):
        # the item the question names by its whole label ("... account information?" and "Account Information: ...")
        # answers alone; its differently labelled siblings are not quoted with it. A label the question only shares a
        # word with ("does it know where I am?" and "Right to Know: ...") names nothing: the whole list is quoted.
        quoted = [s for s in quoted if not (label := _label(s.text)) or label <= question_tokens]
    return sorted(quoted, key=lambda s: (s.scored.chunk.doc_id, s.start))
