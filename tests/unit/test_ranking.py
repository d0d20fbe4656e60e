"""The ranking helpers search uses: only the searched vendor's clauses come back, best first."""

import numpy as np

from rag.multilingual import masked_product, top_masked


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
