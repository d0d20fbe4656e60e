"""Query-time vectors: the bounded LRU in front of the model, the on-disk cache it reads, and the bench's scales."""

from __future__ import annotations

import numpy as np
import pytest

from clausewise.embedding import QueryEmbedder, VectorCache, embed_cached, get_embedder
from clausewise.memory import Trimmer, limit_malloc_arenas, trim
from clausewise.settings import Settings
from clausewise.text import sha256

TEXTS = ["We keep your data for thirty days.", "You may opt out of marketing e-mails at any time.",
         "We do not sell personal information.", "Cookies help us remember your preferences."]


@pytest.fixture(scope="module")
def embedder():
    return get_embedder(Settings().embedding_model)


def test_the_lru_holds_at_most_its_bound_and_keeps_the_recent_ones(embedder) -> None:
    query = QueryEmbedder(embedder, None, max_entries=3)
    for text in TEXTS:
        query.embed([text])
    assert len(query) == 3
    query.embed([TEXTS[1]])  # still there: served from memory
    assert query.hits == 1 and query.misses == 4
    query.embed([TEXTS[0]])  # evicted first, so embedded again
    assert query.misses == 5 and len(query) == 3
    query.clear()
    assert len(query) == 0


def test_word_vectors_are_unit_length_per_word_piece_and_kept_for_the_next_vendor(embedder) -> None:
    query = QueryEmbedder(embedder, None)
    pieces, vectors = query.word_vectors("Does Kaizenify keep call recordings?")

    assert pieces[:2] == ["does", "kai"] and pieces[-1] == "?" and len(pieces) == len(vectors)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    again = query.word_vectors("Does Kaizenify keep call recordings?")
    assert query.word_hits == 1 and again[0] == pieces and np.array_equal(again[1], vectors)


def test_a_zero_bound_keeps_nothing(embedder) -> None:
    query = QueryEmbedder(embedder, None, max_entries=0)
    query.embed(TEXTS)
    assert len(query) == 0


def test_cached_vectors_match_the_model_and_keep_the_order(embedder, tmp_path) -> None:
    cache = VectorCache(tmp_path / "cache.sqlite3", embedder.model_name)
    embed_cached(embedder, cache, TEXTS[:2])  # as ingest does for clause sentences
    query = QueryEmbedder(embedder, cache, max_entries=16)
    asked = ["How long do you keep my data?", TEXTS[1], TEXTS[0], TEXTS[3], TEXTS[1]]
    got = query.embed(asked)
    direct = embedder.embed(asked)
    assert got.shape == direct.shape and got.dtype == np.float32
    assert np.abs(got - direct).max() < 1e-5  # the same vectors, up to float rounding of a different batch
    assert query.disk_hits == 2 and query.misses == 2  # the two sentences came from disk, the rest were embedded
    # questions are never written to disk: the cache holds only what ingest put there
    assert cache.get_many([sha256(t) for t in asked]).keys() == {sha256(TEXTS[0]), sha256(TEXTS[1])}


def test_embed_cached_sorts_by_length_but_returns_rows_in_input_order(embedder, tmp_path) -> None:
    cache = VectorCache(tmp_path / "cache.sqlite3", embedder.model_name)
    texts = [TEXTS[0], "Short.", TEXTS[1] * 3, TEXTS[0]]
    rows = embed_cached(embedder, cache, texts)
    assert np.abs(rows - embedder.embed(texts)).max() < 1e-5
    assert cache.misses == 3  # the duplicate is embedded once


def test_vector_cache_marks(tmp_path) -> None:
    cache = VectorCache(tmp_path / "cache.sqlite3", "m")
    assert not cache.marked("doc-v1")
    cache.mark("doc-v1")
    assert cache.marked("doc-v1") and not VectorCache(tmp_path / "cache.sqlite3", "other").marked("doc-v1")


def test_memory_helpers_never_fail() -> None:
    assert limit_malloc_arenas(0) is False  # 0 = leave glibc's default alone
    assert isinstance(trim(), bool)
    trimmer = Trimmer(0.01)
    trimmer.start()
    trimmer.stop()
    trimmer.join(timeout=2)
    assert not trimmer.is_alive()


def test_bench_accepts_the_scales_of_the_issue() -> None:
    from clausewise.cli import build_parser
    from rag.bench import parse_scales

    assert parse_scales("bundled,10k,100k") == (["bundled"], [10_000, 100_000])
    args = build_parser().parse_args(["bench", "--scales", "bundled,10k,100k", "--no-chroma-server"])
    assert args.scales == "bundled,10k,100k" and args.no_chroma_server
    with pytest.raises(ValueError):
        parse_scales("bundled,lots")
