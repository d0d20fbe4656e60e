"""Questions that are not in English: dense scores from the multilingual index (clausewise.multilingual), the
embedder that scores sentences against such a question, and the notice that an answer quotes the policy in its own
language."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import numpy as np

from clausewise.language import detect_language, language_name
from clausewise.multilingual import MultilingualIndex, get_multilingual_embedder
from clausewise.settings import Settings
from clausewise.store import Store

# The multilingual model's similarities across languages sit in a narrow band (mean ~0.80, sd ~0.03) where MiniLM's
# for the same question asked in English spread widely (mean ~0.38, sd ~0.16); the sentence weights and the refusal
# model were fitted on MiniLM's scale. A cross-language similarity is put on that scale by matching the two
# distributions' mean and spread (slope, multilingual mean, MiniLM mean), measured on the translated seed questions
# (tests/fixtures/multilingual.jsonl) against the candidate sentences and clauses their own search finds: model
# outputs only, no relevance labels (docs/evaluation.md, "Similarity scale across languages").
SENTENCE_SCALE = (5.72, 0.791, 0.380)
CLAUSE_SCALE = (6.91, 0.806, 0.444)


def on_main_scale(similarities: np.ndarray, scale: tuple[float, float, float]) -> np.ndarray:
    """Cross-language similarities of the multilingual model mapped onto the main (MiniLM) model's scale."""
    slope, multilingual_mean, main_mean = scale
    return slope * (similarities - multilingual_mean) + main_mean


class MultilingualRetrieval:
    """Dense retrieval over the multilingual index; its vectors are held in memory per store version."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.index = MultilingualIndex(settings, store)
        self._lock = threading.Lock()
        self._version: str | None = None
        self._matrix = np.zeros((0, 0), dtype=np.float32)

    def matrix(self, index) -> np.ndarray:
        """Multilingual rows aligned with the retriever's chunk table (`index.chunks`)."""
        with self._lock:
            if self._version != index.version:
                self._matrix = self.index.vectors([c.chunk_id for c in index.chunks])
                self._version = index.version
            return self._matrix

    def similarities(self, question: str, index, mask: np.ndarray) -> np.ndarray:
        """The multilingual model's similarity of `question` to the searched (`mask`) chunks; 0 for the others."""
        return masked_product(self.matrix(index), self.index.embedder.embed([question])[0], mask)

    def ready(self, index) -> bool:
        """Whether the multilingual index holds a vector for every chunk (built at ingest, or since): a question that
        only blends it in never waits for it to be built."""
        with self._lock:
            if self._version == index.version:
                return True
        return self.index.collection.count() >= len(index.chunks)

    def blend(self, question: str, main: np.ndarray, index, mask: np.ndarray, share: float) -> np.ndarray:
        """`share` of the multilingual similarity plus the rest of the main model's (`main`: the question's main-model
        similarities, see `masked_product`), each rescaled to [0, 1] over the searched chunks (0 for the others):
        measured on English questions, the two together retrieve better than either."""
        return share * _rescaled(self.similarities(question, index, mask), mask) + (1 - share) * _rescaled(main, mask)

    def dense(self, question: str, index, mask: np.ndarray, n: int, main_embedder=None) -> tuple[dict[str, float], Callable[[int], float]]:
        """The top-n masked chunks by multilingual similarity, and a scorer for any other chunk position. An English
        question (about text in another language) also keeps the main model's similarity, half and half: measured on
        English questions about a Chinese-only policy, the two together retrieve better than either."""
        if main_embedder is not None and detect_language(question) == "en" and mask.any():
            main = masked_product(index.vectors, main_embedder.embed([question])[0], mask)
            scores = self.blend(question, main, index, mask, 0.5)
        else:
            scores = np.where(mask, on_main_scale(self.similarities(question, index, mask), CLAUSE_SCALE), 0.0)
        dense = {index.chunks[i].chunk_id: float(scores[i]) for i in top_masked(scores, mask, n)}
        return dense, lambda i: float(scores[i])


def masked_product(matrix: np.ndarray, vector: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`matrix @ vector` on the masked rows only (a vendor's clauses, not the whole store), 0 elsewhere."""
    if mask.all():
        return matrix @ vector
    out = np.zeros(len(mask), dtype=np.float32)
    rows = np.flatnonzero(mask)
    out[rows] = matrix[rows] @ vector
    return out


def top_masked(scores: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Positions of the n best `scores` among the masked rows, best first (a partial sort: 100,000 rows are cheap)."""
    rows = np.flatnonzero(mask)
    if len(rows) > n:
        rows = rows[np.argpartition(-scores[rows], n - 1)[:n]]
    return rows[np.argsort(-scores[rows], kind="stable")]


def _rescaled(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    low, high = float(scores[mask].min()), float(scores[mask].max())
    return np.where(mask, (scores - low) / ((high - low) or 1.0), 0.0)


def wanted(settings: Settings, question: str, languages: Iterable[str]) -> bool:
    """Use the multilingual model when none of the searched text (clauses in `languages`) is in the question's
    language: a German question about an English policy, an English question about a Chinese-only one. Within one
    language the main index (and BM25) already match, Chinese to Chinese included."""
    return bool(settings.multilingual_model) and detect_language(question) not in set(languages)


def sentence_embedder(settings: Settings, question: str, default, languages: Iterable[str]):
    """The embedder that scores the sentences of clauses in `languages` against `question`."""
    return get_multilingual_embedder(settings.multilingual_model) if wanted(settings, question, languages) else default


# Across languages only the embedding similarity says whether a sentence answers (no shared words to check), which
# tells answerable from unanswerable questions less reliably (docs/evaluation.md): the reader is told to check.
CROSS_LANGUAGE_CAVEAT = "Matched across languages: check that the quoted text answers your question."


def language_notice(question: str, quoted_languages: Iterable[str]) -> str | None:
    """'Quoted in the policy's language (English); the question was in German. <caveat>' when they differ, else None."""
    asked = detect_language(question)
    quoted = [lang for lang in dict.fromkeys(quoted_languages) if lang]
    if not quoted or quoted == [asked]:
        return None
    names = " and ".join(language_name(lang) for lang in quoted)
    return (f"Quoted in the policy's language ({names}); the question was in {language_name(asked)}. "
            f"{CROSS_LANGUAGE_CAVEAT}")


def quoted_languages(citations, groups) -> list[str]:
    """Languages of the clauses an answer cites (from the retrieved chunks), in citation order."""
    lang_of = {(i.chunk.doc_id, i.chunk.clause_id): i.chunk.lang for items in groups.values() for i in items}
    return [lang_of.get((c.document, c.clause_id), "") for c in citations]
