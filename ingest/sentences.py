"""Sentence vectors at ingest: every sentence an answer may quote is embedded once, here, into the content-hash
vector cache, so answering a question embeds only the question (see rag/evidence.score_sentences)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from clausewise.embedding import VectorCache, embed_cached
from clausewise.text import sha256
from clausewise.types import Chunk, ScoredChunk


def sentence_texts(chunks: Sequence[Chunk], raw_text: str) -> list[str]:
    """The distinct sentence texts of `chunks`, exactly as the answerer splits and scores them."""
    from rag.evidence import split_sentences

    scored = [ScoredChunk(chunk=c, score=0.0) for c in chunks]
    return list(dict.fromkeys(s.text for s in split_sentences(scored, {c.doc_id: raw_text for c in chunks})))


def missing_sentences(cache: VectorCache, texts: Sequence[str]) -> list[str]:
    """The texts whose vectors are not cached yet."""
    known = cache.get_many([sha256(t) for t in texts])
    return [t for t in texts if sha256(t) not in known]


def embed_sentences(embedder, cache: VectorCache, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> int:
    """Embed the sentences not cached yet; returns how many were embedded."""
    before = cache.misses
    embed_cached(embedder, cache, list(texts), on_batch=on_batch)
    return cache.misses - before
