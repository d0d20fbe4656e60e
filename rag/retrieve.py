"""Hybrid retrieval: dense (Chroma) + BM25 over the same chunks, fused by a weighted sum of normalised scores,
filtered to the asked vendor(s). The BM25 index and the chunk table are rebuilt only when the store changes."""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass, replace

import bm25s
import numpy as np

from clausewise.embedding import Embedder, query_embedder
from clausewise.glossary import english_terms
from clausewise.language import detect_language
from clausewise.settings import Settings
from clausewise.store import Store
from clausewise.text import ends_with_colon
from clausewise.types import Chunk, ScoredChunk
from rag.asked import asked_attribute, has_attribute
from rag.lexical import expand, tokenize
from rag.multilingual import masked_product, top_masked
from rag.multilingual import wanted as multilingual_wanted

# BM25 weight of a synonym the question did not use, relative to the question's own words.
SYNONYM_WEIGHT = 0.4
# The best BM25 match always gets a place in the top k (the last one, when fusion ranked it lower).
LEXICAL_SLOT = True
# A question asking for a kind of value gets the best clause that gives one in its top k (the one before last);
# only kinds a pattern of their own recognises (a person's or company's name is any run of capitalised words).
ANSWER_TYPE_SLOT = True
SLOT_KINDS = frozenset({"email", "phone", "url", "contact", "date", "price", "law", "jurisdiction", "timeframe", "number"})


def _keep_a_place(ranked: list[ScoredChunk], item: ScoredChunk, position: int, k: int,
                  kept: tuple[ScoredChunk, ...] = ()) -> None:
    """Move `item` up to `position` when it ranks below; it takes the displaced clause's scores (the order stays
    monotone). A clause of `kept` (one that already holds a place) the move pushes out of the top k stays in it: the
    lowest-ranked other clause of the top k leaves instead."""
    if ranked.index(item) <= position:
        return
    ranked.remove(item)
    ranked.insert(position, replace(item, score=ranked[position].score, hybrid=ranked[position].hybrid))
    held = {s.chunk.chunk_id for s in kept} | {item.chunk.chunk_id}
    if len(ranked) > k and ranked[k].chunk.chunk_id in held:
        leaving = max(i for i in range(k) if ranked[i].chunk.chunk_id not in held)
        dropped = ranked.pop(leaving)  # the clauses below it move up one place; it follows them, level with the last
        ranked.insert(k, replace(dropped, score=ranked[k - 1].score, hybrid=ranked[k - 1].hybrid))


class EmptyStoreError(Exception):
    """Nothing has been ingested yet."""


@dataclass
class _Index:
    version: str
    chunks: list[Chunk]
    position: dict[str, int]
    vendors: np.ndarray  # vendor name per chunk
    bm25: bm25s.BM25
    following: dict[str, Chunk]  # chunk_id -> the next chunk of the same document
    vectors: np.ndarray  # embedding row per chunk, to score BM25 candidates Chroma's dense query did not return


class Retriever:
    """Answers `search(question, vendors, k)` with fused, vendor-filtered, clause-level results."""

    def __init__(self, settings: Settings, store: Store | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.store = store or Store(settings)
        self._embedder = embedder
        self._index: _Index | None = None
        self._lock = threading.Lock()
        self._multilingual = None  # rag.multilingual.MultilingualRetrieval, built on the first non-English question

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = query_embedder(self.settings)
        return self._embedder

    def index(self) -> _Index:
        """The BM25 index for the current store version (rebuilt only after ingest changes)."""
        version = self.store.version()
        with self._lock:
            if self._index is None or self._index.version != version:
                chunks, vectors = self.store.all_chunks_with_vectors()
                bm25 = bm25s.BM25()
                if chunks:
                    bm25.index([tokenize(c.embed_text) or ["_"] for c in chunks], show_progress=False)
                self._index = _Index(
                    version=version,
                    chunks=chunks,
                    position={c.chunk_id: i for i, c in enumerate(chunks)},
                    vendors=np.array([c.vendor for c in chunks], dtype=object),
                    bm25=bm25,
                    following=_following(chunks),
                    vectors=vectors,
                )
                gc.freeze()  # the index's ~1M objects live long: keep them out of every later full GC pass (100k store)
            return self._index

    @property
    def multilingual(self):
        """The multilingual index's retrieval side (rag.multilingual), created on first use."""
        if self._multilingual is None:
            from rag.multilingual import MultilingualRetrieval

            self._multilingual = MultilingualRetrieval(self.settings, self.store)
        return self._multilingual

    def invalidate(self) -> None:
        with self._lock:
            self._index = None

    def search(self, question: str, vendors: list[str] | None = None, k: int | None = None) -> list[ScoredChunk]:
        """Top-k chunks for `question`, restricted to `vendors` when given (best first)."""
        k = k or self.settings.top_k
        index = self.index()
        if not index.chunks:
            raise EmptyStoreError("the store is empty: run `clausewise ingest corpus/` first")
        mask = np.isin(index.vendors, vendors) if vendors else np.ones(len(index.chunks), dtype=bool)
        if not mask.any():
            return []
        candidates = self.settings.candidates
        across = multilingual_wanted(self.settings, question, (index.chunks[i].lang for i in np.flatnonzero(mask)))
        lexical = self._bm25_scores(index, question, mask, across)
        ranking = None  # the dense score fusion ranks by, where it is not the similarity itself
        if across:
            # not English (or no English text to search): dense scores come from the second, multilingual index
            dense, dense_of = self.multilingual.dense(question, index, mask, candidates, self.embedder)
        elif self._blend_ready(index):
            # the blend needs the main model's similarity to every searched clause: its top candidates come from the
            # same exact product (no second, approximate Chroma query for them)
            main = masked_product(index.vectors, self.embedder.embed([question])[0], mask)
            ranking = self.multilingual.blend(question, main, index, mask, self.settings.english_blend)
            dense = {index.chunks[i].chunk_id: float(main[i]) for i in top_masked(main, mask, candidates)}
            dense_of = lambda i: float(main[i])  # noqa: E731
        else:
            query = self.embedder.embed([question])[0]
            dense = self._dense_scores(query, vendors, candidates)
            dense_of = lambda i: float(index.vectors[i] @ query)  # noqa: E731
        pool = {int(i) for i in top_masked(lexical, mask, candidates) if lexical[i] > 0} | {index.position[c] for c in dense if c in index.position}
        if ranking is not None:
            pool |= {int(i) for i in top_masked(ranking, mask, candidates)}
        if not pool:
            return []
        for i in pool:
            if index.chunks[i].chunk_id not in dense:
                dense[index.chunks[i].chunk_id] = dense_of(i)
        lexical_max = float(lexical.max()) or 1.0
        lexical_of = {i: float(lexical[i]) / lexical_max for i in pool}
        fused = self._fused({i: dense[index.chunks[i].chunk_id] for i in pool}, lexical_of)
        # the order: the same fusion of the blended dense score, where there is one
        order = fused if ranking is None else self._fused({i: float(ranking[i]) for i in pool}, lexical_of)
        scored = [ScoredChunk(chunk=index.chunks[i], score=order[i], dense=dense[index.chunks[i].chunk_id], lexical=lexical_of[i],
                              hybrid=None if ranking is None else fused[i])
                  for i in sorted(pool, key=lambda i: -order[i])]
        ranked = _dedupe_by_clause(scored)
        kept: tuple[ScoredChunk, ...] = ()  # clauses already holding a place in the top k
        if LEXICAL_SLOT and len(ranked) > k:
            # the best keyword match keeps a place even when its embedding is far off (a long, mixed clause)
            top_lexical = max(ranked, key=lambda s: s.lexical)
            if top_lexical.lexical > 0:
                _keep_a_place(ranked, top_lexical, k - 1, k)
                kept = (top_lexical,)
        if ANSWER_TYPE_SLOT and len(ranked) > k:
            # a question asking for a kind of value ("which laws", "what e-mail address") keeps a place for the best
            # clause that gives one, when none of the top k does (its wording may share nothing with the question)
            kind = asked_attribute(question)
            if kind in SLOT_KINDS and not any(has_attribute(kind, s.chunk.text, question) for s in ranked[:k]):
                carrier = next((s for s in ranked[k:] if has_attribute(kind, s.chunk.text, question)), None)
                if carrier is not None:
                    _keep_a_place(ranked, carrier, max(k - 2, 0) if LEXICAL_SLOT else k - 1, k, kept)
        return _with_continuations(ranked, index, k)

    def _fused(self, dense: dict[int, float], lexical: dict[int, float]) -> dict[int, float]:
        """Weighted sum of the dense score (rescaled to [0, 1] over the candidates) and the normalised BM25 score."""
        low, high = min(dense.values()), max(dense.values())
        span = (high - low) or 1.0
        weight = self.settings.dense_weight
        return {i: weight * (d - low) / span + (1 - weight) * lexical[i] for i, d in dense.items()}

    def _blend_ready(self, index: _Index) -> bool:
        """Whether an English question blends in the multilingual model (`english_blend`): not when that is off or
        the multilingual index is not built yet (an English question never waits for it)."""
        return bool(self.settings.english_blend and self.settings.multilingual_model and self.multilingual.ready(index))

    def _bm25_scores(self, index: _Index, question: str, mask: np.ndarray, across_languages: bool = False) -> np.ndarray:
        """BM25 of the question's own words plus, down-weighted, their privacy-domain synonyms. A question about
        policies with no text in its language (`across_languages`) also looks for the English words of the privacy
        concepts it names (clausewise/glossary.py: seven languages): the policy shares none of its own words."""
        asked = tokenize(question)
        if across_languages:
            asked += tokenize(" ".join(english_terms(question, detect_language(question))))
        own = [t for t in asked if t in index.bm25.vocab_dict]
        synonyms = [t for t in expand(asked)[len(asked) :] if t in index.bm25.vocab_dict]
        scores = np.zeros(len(index.chunks))
        if own:
            scores += index.bm25.get_scores(own)
        if synonyms:
            scores += SYNONYM_WEIGHT * index.bm25.get_scores(synonyms)
        return np.where(mask, scores, 0.0)

    def _dense_scores(self, query: np.ndarray, vendors: list[str] | None, n: int) -> dict[str, float]:
        where = {"vendor": {"$in": vendors}} if vendors else None
        result = self.store.chunks.query(query_embeddings=[query.tolist()], n_results=n, where=where, include=["distances"])
        return {cid: 1.0 - float(dist) for cid, dist in zip(result["ids"][0], result["distances"][0], strict=True)}


def _dedupe_by_clause(scored: list[ScoredChunk]) -> list[ScoredChunk]:
    """Keep the best chunk per clause (a long clause split in pieces shows up once)."""
    seen: set[str] = set()
    kept = []
    for item in scored:
        if item.chunk.clause_id in seen:
            continue
        seen.add(item.chunk.clause_id)
        kept.append(item)
    return kept


def _following(chunks: list[Chunk]) -> dict[str, Chunk]:
    """Each chunk's successor in its document (by offset)."""
    ordered = sorted(chunks, key=lambda c: (c.doc_id, c.start))
    return {a.chunk_id: b for a, b in zip(ordered, ordered[1:], strict=False) if a.doc_id == b.doc_id}


def _with_continuations(ranked: list[ScoredChunk], index: _Index, k: int) -> list[ScoredChunk]:
    """The top k, where a clause that ends with a colon ("contact us at:") brings the clause it introduces right
    after it: without it the answer would stop mid-statement (the address, the list that follows)."""
    kept: list[ScoredChunk] = []
    seen: set[str] = set()
    for item in ranked:
        if len(kept) >= k:
            break
        if item.chunk.clause_id in seen:
            continue
        kept.append(item)
        seen.add(item.chunk.clause_id)
        following = index.following.get(item.chunk.chunk_id)
        if following and ends_with_colon(item.chunk.text) and following.clause_id not in seen and len(kept) < k:
            kept.append(replace(item, chunk=following, lexical=0.0))
            seen.add(following.clause_id)
    return kept
