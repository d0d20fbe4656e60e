"""The ranking helpers search uses: only the searched vendor's clauses come back, best first, and the clauses that
keep a place (the best keyword match, the clause giving an asked value) stay in the top k."""

import numpy as np

from clausewise.types import Chunk, ScoredChunk
from rag.multilingual import masked_product, top_masked
from rag.retrieve import _keep_a_place


def test_top_masked_returns_only_searched_rows_best_first() -> None:
    rng = np.random.default_rng(7)
    scores = rng.random(1000)
    mask = rng.random(1000) < 0.3
    top = top_masked(scores, mask, 40)
    assert len(top) == 40
    assert mask[top].all(), "a clause of a vendor that was not searched came back"
    expected = np.flatnonzero(mask)[np.argsort(-scores[mask])][:40]
    assert list(top) == list(expected)


def test_top_masked_with_fewer_searched_rows_than_asked_returns_them_all() -> None:
    scores = np.array([0.1, 0.9, 0.5, 0.7])
    mask = np.array([True, False, True, False])
    assert list(top_masked(scores, mask, 40)) == [2, 0]


def test_masked_product_scores_the_searched_rows_only() -> None:
    matrix = np.eye(3, dtype=np.float32)
    vector = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    mask = np.array([True, False, True])
    assert list(masked_product(matrix, vector, mask)) == [1.0, 0.0, 3.0]


def _ranked(n: int) -> list[ScoredChunk]:
    chunks = [Chunk(chunk_id=f"c{i}", doc_id="acme", vendor="Acme", lang="en", clause_ids=(f"acme/c-{i}",), section_path=(),
                    start=i * 10, end=i * 10 + 9, text=f"clause {i}", embed_text=f"clause {i}", content_hash=f"h{i}")
              for i in range(n)]
    return [ScoredChunk(chunk, score=1 - i / 10) for i, chunk in enumerate(chunks)]


def _ids(ranked: list[ScoredChunk]) -> list[str]:
    return [s.chunk.chunk_id for s in ranked]


def test_a_kept_place_moves_a_clause_into_the_top_k_and_the_order_stays_monotone() -> None:
    ranked = _ranked(9)

    _keep_a_place(ranked, ranked[7], 4, 5)

    assert _ids(ranked)[:5] == ["c0", "c1", "c2", "c3", "c7"]
    scores = [s.score for s in ranked]
    assert scores == sorted(scores, reverse=True)


def test_a_second_kept_place_never_pushes_the_first_out_of_the_top_k() -> None:
    ranked = _ranked(9)
    lexical = ranked[6]
    _keep_a_place(ranked, lexical, 4, 5)  # the best keyword match, at the last place

    _keep_a_place(ranked, ranked[8], 3, 5, (lexical,))  # the clause giving the asked value, the one before

    assert _ids(ranked)[:5] == ["c0", "c1", "c2", "c8", "c6"]
    scores = [s.score for s in ranked]
    assert scores == sorted(scores, reverse=True)
