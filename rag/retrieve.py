"""Hybrid retrieval: dense (Chroma) + BM25 over the same chunks, fused by a weighted sum of normalised scores,
filtered to the asked vendor(s). The BM25 index and the chunk table are rebuilt only when the store changes."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import bm25s
import numpy as np

from clausewise.embedding import Embedder, get_embedder
from clausewise.settings import Settings
from clausewise.store import Store
from clausewise.types import Chunk, ScoredChunk
from rag.lexical import expand, tokenize


# BM25 weight of a synonym the question did not use, relative to the question's own words.
SYNONYM_WEIGHT = 0.4
FUSION = "minmax"
RRF_K = 10


class EmptyStoreError(Exception):
    """Nothing has been ingested yet."""


@dataclass
class _Index:
    version: str
    chunks: list[Chunk]
    position: dict[str, int]
    vendors: np.ndarray  # vendor name per chunk
    bm25: bm25s.BM25


class Retriever:
    """Answers `search(question, vendors, k)` with fused, vendor-filtered, clause-level results."""

    def __init__(self, settings: Settings, store: Store | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.store = store or Store(settings)
        self._embedder = embedder
        self._index: _Index | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.settings.embedding_model, self.settings.embed_batch_size)
        return self._embedder

    def index(self) -> _Index:
        """The BM25 index for the current store version (rebuilt only after ingest changes)."""
        version = self.store.version()
        with self._lock:
            if self._index is None or self._index.version != version:
                chunks = self.store.all_chunks()
                bm25 = bm25s.BM25()
                if chunks:
                    bm25.index([tokenize(c.embed_text) or ["_"] for c in chunks], show_progress=False)
                self._index = _Index(
                    version=version,
                    chunks=chunks,
                    position={c.chunk_id: i for i, c in enumerate(chunks)},
                    vendors=np.array([c.vendor for c in chunks], dtype=object),
                    bm25=bm25,
                )
            return self._index

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
        lexical = self._bm25_scores(index, question, mask)
        dense = self._dense_scores(question, vendors, candidates)
        lexical_top = np.argsort(-lexical)[:candidates]
        pool = {int(i) for i in lexical_top if lexical[i] > 0} | {index.position[c] for c in dense if c in index.position}
        if not pool:
            return []
        missing = [index.chunks[i].chunk_id for i in pool if index.chunks[i].chunk_id not in dense]
        dense.update(self._dense_for_ids(question, missing))
        lexical_max = float(lexical.max()) or 1.0
        dense_values = np.array([dense[index.chunks[i].chunk_id] for i in pool])
        low, high = float(dense_values.min()), float(dense_values.max())
        span = (high - low) or 1.0
        weight = self.settings.dense_weight
        order = sorted(pool, key=lambda i: -dense[index.chunks[i].chunk_id])
        drank = {i: r for r, i in enumerate(order)}
        lorder = sorted(pool, key=lambda i: -lexical[i])
        lrank = {i: r for r, i in enumerate(lorder)}
        scored = []
        for i in pool:
            chunk = index.chunks[i]
            d = dense[chunk.chunk_id]
            lex = float(lexical[i]) / lexical_max
            if FUSION == "minmax":
                fused = weight * (d - low) / span + (1 - weight) * lex
            elif FUSION == "max":
                fused = weight * max(d, 0) / max(high, 1e-6) + (1 - weight) * lex
            elif FUSION == "rrf":
                fused = weight / (RRF_K + drank[i]) + (1 - weight) * ((1 / (RRF_K + lrank[i])) if lexical[i] > 0 else 0)
            scored.append(ScoredChunk(chunk=chunk, score=fused, dense=d, lexical=lex))
        scored.sort(key=lambda s: -s.score)
        return _dedupe_by_clause(scored)[:k]

    def _bm25_scores(self, index: _Index, question: str, mask: np.ndarray) -> np.ndarray:
        """BM25 of the question's own words plus, down-weighted, their privacy-domain synonyms."""
        asked = tokenize(question)
        own = [t for t in asked if t in index.bm25.vocab_dict]
        synonyms = [t for t in expand(asked)[len(asked) :] if t in index.bm25.vocab_dict]
        scores = np.zeros(len(index.chunks))
        if own:
            scores += index.bm25.get_scores(own)
        if synonyms:
            scores += SYNONYM_WEIGHT * index.bm25.get_scores(synonyms)
        return np.where(mask, scores, 0.0)

    def _query_vector(self, question: str) -> np.ndarray:
        return self.embedder.embed([question])[0]

    def _dense_scores(self, question: str, vendors: list[str] | None, n: int) -> dict[str, float]:
        where = {"vendor": {"$in": vendors}} if vendors else None
        result = self.store.chunks.query(
            query_embeddings=[self._query_vector(question).tolist()], n_results=n, where=where, include=["distances"]
        )
        return {cid: 1.0 - float(dist) for cid, dist in zip(result["ids"][0], result["distances"][0], strict=True)}

    def _dense_for_ids(self, question: str, ids: list[str]) -> dict[str, float]:
        if not ids:
            return {}
        got = self.store.chunks.get(ids=ids, include=["embeddings"])
        query = self._query_vector(question)
        return {cid: float(np.dot(np.asarray(vec, dtype=np.float32), query)) for cid, vec in zip(got["ids"], got["embeddings"], strict=True)}


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
