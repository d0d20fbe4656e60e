"""The Python API of clausewise answering: ask, ask_stream, compare. UI and CLI are thin shells over it.

Usage:
    engine = Engine(load_settings())
    answer = engine.ask("How long does Kipsu retain data?")          # -> Answer
    for event in engine.ask_stream("...", vendor="Kipsu"): ...       # -> StreamEvent(kind, text | answer)
    table = engine.compare("Do they sell data?", vendors=None)       # -> Comparison (one row per vendor)
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial
from urllib.parse import quote as urlquote

import clausewise.offline  # noqa: F401
from clausewise.glossary import english_concepts
from clausewise.language import detect_language
from clausewise.settings import Settings
from clausewise.store import Store
from clausewise.text import normalize_ws
from clausewise.types import Answer, Citation, Comparison, ComparisonRow, DocumentInfo, ScoredChunk
from ingest.chunk import section_label
from rag.answerability import (
    WEAK_MATCH_MARGIN,
    AnswerabilityModel,
    Signals,
    Vocabulary,
    absent_words_notice,
    decide,
    key_word_reliance,
    load_model,
    measure,
    weak_match_notice,
    weakest_word_match,
)
from rag.asked import names_absent, quantities_absent
from rag.backends import select_generator
from rag.backends.base import BackendError
from rag.evidence import (
    Sentence,
    complete_lists,
    content_tokens,
    idf_table,
    pick_sentences,
    score_sentences,
    split_sentences,
    words_absent_from,
)
from rag.lexical import tokenize
from rag.model_draft import Draft, StreamEvent, model_draft
from rag.multilingual import SENTENCE_SCALE, language_notice, on_main_scale, quoted_languages, sentence_embedder
from rag.retrieve import EmptyStoreError, Retriever
from rag.vendors import VendorDetection, across_vendors, detect_vendors, strip_vendor_names

NOT_STATED = "Not stated in this policy"

@lru_cache(maxsize=65536)
def _name_tokens(name: str) -> tuple[str, ...]:
    """tokenize() of a vendor name or alias, once per name (bounded)."""
    return tuple(tokenize(name))


class UnknownVendorError(ValueError):
    """The vendor the user named is not in the store, or names several of its vendors (`candidates`)."""

    def __init__(self, message: str, name: str = "", candidates: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.name = name
        self.candidates = candidates


@dataclass(frozen=True)
class VendorEvidence:
    """One vendor's best sentences (`picked`) and the refusal decision on them."""

    vendor: str
    picked: list[Sentence]
    answered: bool
    reason: str = ""
    signals: Signals | None = None
    probability: float = 0.0
    across_languages: bool = False  # the question and the quoted text are in different languages
    unsupported: tuple[str, ...] = ()  # periods and names the question gives that the policy never mentions

    @property
    def chosen(self) -> list[Sentence]:
        """The sentences the answer quotes: none when the policy does not answer."""
        return self.picked if self.answered else []


def cited_spans(chosen: list[Sentence]) -> list[tuple[ScoredChunk, int, int]]:
    """One citation per clause, in first-quoted order: the clause's item and the span from its first to last sentence."""
    spans: dict[str, tuple[ScoredChunk, int, int]] = {}
    for sentence in chosen:
        clause = sentence.scored.chunk.clause_id
        item, start, end = spans.get(clause, (sentence.scored, sentence.start, sentence.end))
        spans[clause] = (item, min(start, sentence.start), max(end, sentence.end))
    return list(spans.values())


def question_problem(question: str) -> str | None:
    """Why `question` cannot be asked, or None: it is empty, or has no word (no letter or digit in any script: "???")."""
    if not question.strip():
        return "the question is empty"
    if not any(ch.isalnum() for ch in question):
        return "the question has no words, only punctuation or symbols"
    return None


class Engine:
    """Retrieval + answering over one store. Thread-safe; models load lazily, once."""

    def __init__(self, settings: Settings, store: Store | None = None, answerability: AnswerabilityModel | None = None) -> None:
        self.settings = settings
        self.store = store or Store(settings)
        self.retriever = Retriever(settings, self.store)
        self._ingestor = None
        self._cache_lock = threading.Lock()
        self._cache_version: str | None = None
        self._documents: list[DocumentInfo] = []
        self._raw: dict[str, str] = {}
        self._idf: dict[str, float] = {}
        self._vocabulary: dict[str, Vocabulary] = {}
        self._policy_texts: dict[str, str] = {}  # each vendor's whole policy text (all its documents)
        self._all_vendor_words: set[str] = set()
        self.answerability = answerability or load_model().at_threshold(settings.refusal_threshold)

    # ---- store views --------------------------------------------------------------------------------
    @property
    def ingestor(self):
        if self._ingestor is None:
            from ingest.pipeline import Ingestor

            self._ingestor = Ingestor(self.settings, self.store)
        return self._ingestor

    def refresh(self) -> None:
        """Forget cached views of the store (after an upload or removal)."""
        with self._cache_lock:
            self._cache_version = None
        self.retriever.invalidate()

    def _sync(self) -> None:
        index = self.retriever.index()
        with self._cache_lock:
            if self._cache_version == index.version:
                return
            ledger = self.store.ledger()
            self._documents = [e.info for e in ledger.values() if e.status == "done"]
            self._raw = {doc_id: e.raw_text for doc_id, e in ledger.items()}
            tokens = [tokenize(c.embed_text) for c in index.chunks]
            self._idf = idf_table(tokens)
            by_vendor: dict[str, list[list[str]]] = {}
            for chunk, chunk_tokens in zip(index.chunks, tokens, strict=True):
                by_vendor.setdefault(chunk.vendor, []).append(chunk_tokens)
            self._vocabulary = {vendor: Vocabulary.of(lists) for vendor, lists in by_vendor.items()}
            texts: dict[str, list[str]] = {}
            for document in self._documents:
                texts.setdefault(document.vendor, []).append(self._raw.get(document.doc_id, ""))
            self._policy_texts = {vendor: "\n".join(parts) for vendor, parts in texts.items()}
            # every vendor's name words, which no answer check counts as the question's own words
            self._all_vendor_words = self._vendor_words([d.vendor for d in self._documents])
            self._cache_version = index.version

    def documents(self) -> list[DocumentInfo]:
        self._sync()
        return list(self._documents)

    def vendors(self) -> list[str]:
        return sorted({d.vendor for d in self.documents()}, key=str.lower)

    def raw_text(self, doc_id: str) -> str:
        self._sync()
        return self._raw.get(doc_id, "")

    def resolve_vendor(self, name: str) -> str:
        """The store's spelling of a vendor the user typed (name or alias), or UnknownVendorError."""
        known = self.vendors()
        for vendor in known:
            if vendor.lower() == name.strip().lower():
                return vendor
        detection = detect_vendors(name, self.documents())
        if len(detection.vendors) == 1:
            return detection.vendors[0]
        if detection.ambiguous:
            candidates = tuple(sorted({v for _, vs in detection.ambiguous for v in vs}))
            raise UnknownVendorError(f"vendor '{name}' is ambiguous: it could be {' or '.join(candidates)}; name one",
                                     name, candidates)
        raise UnknownVendorError(f"unknown vendor '{name}'. Known vendors: {', '.join(known) or '(none: run clausewise ingest)'}",
                                 name)

    def backend_label(self, backend: str | None = None) -> str:
        try:
            generator, reason = select_generator(self.settings, backend)
        except BackendError as exc:
            return f"extractive (fallback: {exc})"
        return generator.label if generator else f"extractive — {reason}"

    # ---- answering ----------------------------------------------------------------------------------
    def ask(self, question: str, vendor: str | None = None, backend: str | None = None) -> Answer:
        """A cited answer, or an honest refusal with the nearest clauses as related."""
        answer = None
        for event in self.ask_stream(question, vendor, backend):
            if event.kind == "answer":
                answer = event.answer
        assert answer is not None
        return answer

    def ask_stream(self, question: str, vendor: str | None = None, backend: str | None = None) -> Iterator[StreamEvent]:
        """Status and draft-token events, then the final verified answer."""
        question = question.strip()
        if problem := question_problem(question):
            raise ValueError(problem)
        timings: dict[str, float] = {}
        started = time.perf_counter()
        self._sync()
        vendors, detection = self._vendors_for(question, vendor)
        answer = Answer(question=question, text="", vendors=vendors)
        if not vendors and detection.ambiguous:
            word, candidates = detection.ambiguous[0]
            answer.text = (f'"{word}" could mean {" or ".join(candidates)}. Which one do you mean? '
                           "Name the vendor or pick it in the vendor selector.")
            answer.refused = True
            answer.notices.append(f'ambiguous vendor name "{word}": {", ".join(candidates)}')
            yield StreamEvent("answer", answer=answer)
            return
        query, every_policy = self._query_for(question, vendors)
        if every_policy:
            vendors = answer.vendors = self.vendors()
        yield StreamEvent("status", text=f"Searching {', '.join(vendors) or 'all policies'}…")
        groups = self._retrieve(query, vendors)
        timings["retrieve"] = time.perf_counter() - started
        try:
            generator, reason = select_generator(self.settings, backend)
        except BackendError as exc:
            if backend not in (None, "auto"):
                raise
            generator, reason = None, str(exc)
        answer.backend, answer.backend_reason = ("extractive", reason) if generator is None else (generator.name, reason)
        draft = None
        if generator is not None:
            yield StreamEvent("status", text=f"Asking {generator.label}…")
            draft = yield from model_draft(generator, question, groups, self.retriever.index().following,
                                           self._vendor_words(list(groups)), self._citation, answer, timings)
        if draft is None:
            t = time.perf_counter()
            draft = self._extractive(query, groups)
            timings["generate"] = time.perf_counter() - t
            for piece in re.findall(r"\S+\s*", draft.text):
                yield StreamEvent("token", text=piece)
        answer.text, answer.citations, answer.refused, answer.related = draft.text, draft.citations, draft.refused, draft.related
        answer.weak_matches = list(draft.weak)
        answer.notices.extend(weak_match_notice(v, p, threshold) for v, (p, threshold) in draft.weak.items())
        answer.notices.extend(self._absent_words_notices(query, groups, answer, named=bool(vendors) and not every_policy))
        if every_policy:
            answer.notices.append(f"Asked of each of the store's {len(vendors)} policies on its own (the question asks which "
                                  "of them do it); the Compare tab (`clausewise compare`) shows the same as a table.")
        if notice := language_notice(query, quoted_languages(answer.citations, groups)):
            answer.notices.append(notice)
        if not vendors and (notice := self._unnamed_vendors_notice(answer)):
            answer.notices.append(notice)
        timings["total"] = time.perf_counter() - started
        answer.timings = {k: round(v, 4) for k, v in timings.items()}
        yield StreamEvent("answer", answer=answer)

    def compare(self, question: str, vendors: list[str] | None = None) -> Comparison:
        """One row per vendor: its short cited answer, or "Not stated in this policy". The vendors are those given; else
        those the question names, when it names two or more ("Compare how long Kipsu and Kalodata keep data"); else all."""
        if vendors:
            chosen = [self.resolve_vendor(v) for v in vendors]
        else:
            every = self.vendors()
            named = set(detect_vendors(question, self.documents()).vendors)
            chosen = [v for v in every if v in named] if len(named) >= 2 else every
        if not chosen:
            raise EmptyStoreError("the store is empty: run `clausewise ingest corpus/` first")
        # a row asks its vendor the question itself: "Which of these vendors share data …" -> "share data …"
        asked = across_vendors(question) or question
        with ThreadPoolExecutor(max_workers=min(4, len(chosen))) as pool:
            answers = list(pool.map(lambda v: self.ask(asked, vendor=v), chosen))
        rows = []
        for vendor, answer in zip(chosen, answers, strict=True):
            answer.question = question
            if answer.refused:
                answer.text = f"{NOT_STATED}. {answer.text}".strip()
            rows.append(ComparisonRow(vendor=vendor, stated=not answer.refused, answer=answer))
        return Comparison(question=question, rows=rows)

    # ---- pieces -------------------------------------------------------------------------------------
    def _vendors_for(self, question: str, vendor: str | None) -> tuple[list[str], VendorDetection]:
        if vendor:
            return [self.resolve_vendor(vendor)], VendorDetection()
        detection = detect_vendors(question, self._documents)
        return detection.vendors, detection

    def _query_for(self, question: str, vendors: list[str]) -> tuple[str, bool]:
        """The retrieval query for the vendors named or chosen, and whether every policy is to be asked instead
        ("Which of these vendors share data with advertisers?" puts "share data with advertisers?" to each)."""
        each = across_vendors(question, vendor_chosen=bool(vendors))
        every_policy = bool(each and not vendors and 0 < len(self.vendors()) <= self.settings.across_vendors_max)
        return self._strip_vendor_names(each or question, self.vendors() if every_policy else vendors), every_policy

    def _strip_vendor_names(self, question: str, vendors: list[str]) -> str:
        """The question without the vendor names it contains (they add noise once retrieval is filtered)."""
        if not vendors:
            return question
        # every vendor's names, not only the asked one's: a comparison question names the others too
        stripped = strip_vendor_names(question, self._documents)
        return stripped if len(tokenize(stripped)) >= 1 else question

    def _retrieve(self, query: str, vendors: list[str]) -> dict[str, list[ScoredChunk]]:
        """Retrieved chunks per vendor: each named vendor, or the best-matching vendors when none is named."""
        if vendors:
            return {v: self.retriever.search(query, [v]) for v in vendors}
        results = self.retriever.search(query, None, k=self.settings.top_k * 2)
        groups: dict[str, list[ScoredChunk]] = {}
        for item in results:
            if item.chunk.vendor in groups or len(groups) < 3:
                groups.setdefault(item.chunk.vendor, []).append(item)
        return {v: items[: self.settings.top_k] for v, items in groups.items()}

    def _absent_words_notices(self, query: str, groups: dict[str, list[ScoredChunk]], answer: Answer,
                              named: bool) -> list[str]:
        """For each vendor asked about (named, or cited when the store's best matches were searched), the question's
        words its policy never uses — only where the question is in a language of the policy's retrieved text."""
        language = detect_language(query)
        cited = {c.vendor for c in answer.citations}
        notices = []
        for vendor, items in groups.items():
            if not items or (not named and vendor not in cited) or language not in {i.chunk.lang for i in items}:
                continue
            vocabulary = self._vocabulary.get(vendor)
            if vocabulary and (words := words_absent_from(query, self._all_vendor_words, vocabulary.tokens)):
                notices.append(absent_words_notice(vendor, words, answered=vendor in cited))
        return notices

    def _unnamed_vendors_notice(self, answer: Answer) -> str | None:
        """With no vendor named, an answer quotes only the best-matching policies: say which share of the store that
        is, so silence about the others is not read as "not stated" (a per-vendor verdict is what compare gives)."""
        total = len(self.vendors())
        quoted = {c.vendor for c in answer.citations}
        if answer.refused or total <= len(quoted):
            return None
        return (f"No vendor named: this quotes the {len(quoted)} of {total} policies whose clauses match the question "
                "best; the others were not checked one by one. Name a vendor, or compare them all (Compare tab, "
                "`clausewise compare`) for every policy's answer side by side.")

    def _citation(self, n: int, item: ScoredChunk, start: int, end: int) -> Citation:
        chunk = item.chunk
        info = next((d for d in self._documents if d.doc_id == chunk.doc_id), None)
        raw = self._raw.get(chunk.doc_id, "")
        url = f"{self.settings.public_url}/?doc={urlquote(chunk.doc_id)}&clause={urlquote(chunk.clause_id)}&start={start}&end={end}"
        return Citation(
            n=n,
            vendor=chunk.vendor,
            document=chunk.doc_id,
            section=section_label(chunk.section_path),
            clause_id=chunk.clause_id,
            quote=normalize_ws(raw[start:end]) if raw else chunk.text,
            start=start,
            end=end,
            url=url,
            effective_date=info.effective_date if info else "",
        )

    def _related(self, groups: dict[str, list[ScoredChunk]]) -> list[Citation]:
        items = sorted((i for g in groups.values() for i in g), key=lambda s: -s.score)[:3]
        return [self._citation(n, item, item.chunk.start, item.chunk.end) for n, item in enumerate(items, 1)]

    def _vendor_words(self, vendors: list[str]) -> set[str]:
        wanted = set(vendors)  # all vendors' words are asked for per answer: 1,544 vendors made a list scan 2.4M steps
        return {t for d in self._documents if d.vendor in wanted for a in (d.vendor, *d.aliases) for t in _name_tokens(a)}

    def evidence(self, query: str, vendor: str, items: list[ScoredChunk]) -> VendorEvidence:
        """The sentences that answer `query` from one vendor's retrieved clauses, or a refusal with its reason."""
        sentences = split_sentences(items, self._raw)
        vendor_words = self._all_vendor_words
        embedder = sentence_embedder(self.settings, query, self.retriever.embedder, (i.chunk.lang for i in items))
        across_languages = embedder is not self.retriever.embedder  # the multilingual model scores the sentences
        scale = partial(on_main_scale, scale=SENTENCE_SCALE) if across_languages else None
        # across languages the glossary names the question's privacy concepts in English (clausewise/glossary.py)
        concepts = english_concepts(query, detect_language(query)) if across_languages else []
        ranked = score_sentences(query, sentences, embedder, self._idf, vendor_words, scale,
                                 [w for words in concepts for w in words])
        if not ranked:
            return VendorEvidence(vendor, [], False, "no clauses found")
        chosen = complete_lists(pick_sentences(ranked), self.retriever.index().following, self._raw,
                                set(content_tokens(query, vendor_words)))
        # across languages word pieces do not align: the weakest word match is undefined, like the word-overlap signals
        weakest = math.nan if across_languages else weakest_word_match(
            embedder.word_vectors(query), embedder.word_vectors(ranked[0].text), vendor_words)
        reliance = math.nan if across_languages else key_word_reliance(query, ranked[0].text, embedder, self._idf,
                                                                        vendor_words)
        stems = [[t for w in words for t in tokenize(w)] for words in concepts] if ranked[0].scored.chunk.lang == "en" else []
        signals = measure(query, ranked[0], chosen, self._idf, vendor_words, self._vocabulary.get(vendor, Vocabulary.of([])),
                          weakest, across_languages, stems, reliance)
        policy_text = self._policy_texts.get(vendor, "")
        # what the question takes for granted and the policy never mentions: a period ("for 10 years"), a name ("OpenAI")
        unsupported = tuple(quantities_absent(query, policy_text) + (
            names_absent(query, policy_text, vendor_words) if detect_language(query) == "en" else []))
        answered, reason, probability = decide(query, signals, self.answerability, across_languages, unsupported)
        return VendorEvidence(vendor, chosen, answered, reason, signals, probability, across_languages, unsupported)

    def _extractive(self, query: str, groups: dict[str, list[ScoredChunk]]) -> Draft:
        """Quote the policy's own sentences that answer the question, attributed and cited."""
        parts, citations, refusals, weak = [], [], [], {}
        numbers: dict[str, int] = {}
        for vendor, items in groups.items():
            found = self.evidence(query, vendor, items)
            if not found.answered:
                refusals.append(f"{vendor}'s privacy policy does not say ({found.reason}).")
                continue
            threshold = self.answerability.threshold_for(found.across_languages)
            if found.probability < threshold + WEAK_MATCH_MARGIN:
                weak[vendor] = (found.probability, threshold)
            for item, start, end in cited_spans(found.chosen):
                numbers[item.chunk.clause_id] = len(numbers) + 1
                citations.append(self._citation(numbers[item.chunk.clause_id], item, start, end))
            quoted = [f"“{s.text}” [{numbers[s.scored.chunk.clause_id]}]" for s in found.chosen]
            parts.append(f"{vendor}'s policy says: " + " ".join(quoted))
        if not parts:
            text = " ".join(refusals) if refusals else "The policies in the store do not say."
            return Draft(text, [], True, self._related(groups))
        return Draft("\n\n".join(parts + refusals), citations, False, [], weak)
