"""The Chroma store: a chunk collection per embedding model plus a document ledger collection.

Works the same with the embedded PersistentClient and a Chroma server (settings.chroma_url).
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import shutil
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import numpy as np

import clausewise.offline  # noqa: F401
from clausewise.settings import Settings
from clausewise.types import Chunk, DocumentInfo

READ_PAGE = 10_000  # records per Chroma get() when reading a whole collection


class StoreError(Exception):
    """The vector store cannot be opened or reached; the message says what to do."""


@dataclass(frozen=True)
class LedgerEntry:
    """What the store knows about one ingested document (the ingest ledger)."""

    info: DocumentInfo
    file_hash: str
    status: str  # "pending" while its chunks are being written, "done" after
    chunk_count: int
    languages: tuple[str, ...]
    raw_text: str
    path: str


def _collection_suffix(model_name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9]+", "-", model_name).strip("-").lower()[:40]


def open_client(settings: Settings):
    """A Chroma client for the settings: HTTP when chroma_url is set, else persistent in data_dir."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    try:
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            client.heartbeat()
            return client
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)
    except StoreError:
        raise
    except Exception as exc:  # chromadb raises many types for an unreachable or broken store
        raise StoreError(f"cannot open the Chroma store at {_where(settings)}: {_reason(exc)} {_hint(settings)}") from None


def _where(settings: Settings) -> str:
    return settings.chroma_url or str(settings.chroma_path)


def _reason(exc: BaseException) -> str:
    """`Type: message.` (always one sentence-ending mark), for error messages."""
    text = str(exc).strip() or "no details"
    return f"{exc.__class__.__name__}: {text}{'' if text[-1] in '.?!' else '.'}"


def _hint(settings: Settings) -> str:
    if settings.chroma_url:
        return (f"Is the Chroma server running at {settings.chroma_url}? Start it with "
                "`chroma run --path DIR --port PORT`, or leave --chroma-url/CLAUSEWISE_CHROMA_URL unset to use the embedded store.")
    return "The store may be corrupted or from an incompatible version: run `clausewise ingest --rebuild`."


def _guarded(doing: str):
    """Turn any chromadb failure inside a Store method into a StoreError that says what to do."""

    def wrap(method):
        @functools.wraps(method)
        def guarded(self: Store, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except StoreError:
                raise
            except Exception as exc:  # chromadb raises many types for a lost server or a broken store
                raise StoreError(
                    f"cannot {doing} in the Chroma store at {_where(self.settings)}: {_reason(exc)} {_hint(self.settings)}"
                ) from exc

        return guarded

    return wrap


def _forget_embedded_system(path: str) -> None:
    """Stop and drop chromadb's in-process cached System for an embedded store path (before deleting its files)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    system = SharedSystemClient._identifier_to_system.pop(path, None)
    SharedSystemClient._identifier_to_refcount.pop(path, None)
    if system is not None:
        with contextlib.suppress(Exception):
            system.stop()


class Store:
    """Chunk vectors + metadata, and a ledger of documents, in Chroma."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = open_client(settings)
        suffix = _collection_suffix(settings.embedding_model)
        self.chunks_name = f"clauses-{suffix}"
        self.docs_name = f"documents-{suffix}"
        self._version: tuple[float, str, int] | None = None  # (monotonic time read, version, ledger entries)
        self._refreshing = threading.Lock()
        try:
            self.chunks = self.client.get_or_create_collection(
                self.chunks_name, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
            self.docs = self.client.get_or_create_collection(
                self.docs_name, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
        except Exception as exc:
            raise StoreError(
                f"cannot open collections in the Chroma store at {_where(settings)}: {_reason(exc)} {_hint(settings)}"
            ) from None

    # ---- ledger -------------------------------------------------------------------------------------
    @_guarded("read the document ledger")
    def ledger(self) -> dict[str, LedgerEntry]:
        """All documents the store knows, by doc_id."""
        result = self.docs.get(include=["metadatas", "documents"])
        entries = {}
        for doc_id, meta, raw in zip(result["ids"], result["metadatas"], result["documents"], strict=True):
            info = DocumentInfo(**json.loads(meta["info"]))
            info = DocumentInfo(**{**info.__dict__, "aliases": tuple(info.aliases), "languages": tuple(info.languages)})
            entries[doc_id] = LedgerEntry(
                info=info,
                file_hash=meta["file_hash"],
                status=meta["status"],
                chunk_count=int(meta["chunk_count"]),
                languages=tuple(json.loads(meta["languages"])),
                raw_text=raw or "",
                path=meta.get("path", ""),
            )
        return entries

    @_guarded("write the document ledger")
    def mark(self, entry: LedgerEntry) -> None:
        """Write (or overwrite) a document's ledger record."""
        self._version = None
        self.docs.upsert(
            ids=[entry.info.doc_id],
            embeddings=[[1.0]],
            documents=[entry.raw_text],
            metadatas=[
                {
                    "info": json.dumps(entry.info.__dict__),
                    "vendor": entry.info.vendor,
                    "file_hash": entry.file_hash,
                    "status": entry.status,
                    "chunk_count": entry.chunk_count,
                    "languages": json.dumps(list(entry.languages)),
                    "path": entry.path,
                }
            ],
        )

    @_guarded("remove a document")
    def remove_document(self, doc_id: str) -> None:
        """Delete a document's chunks, then its ledger record."""
        self._version = None
        self.chunks.delete(where={"doc_id": doc_id})
        self.docs.delete(ids=[doc_id])

    # ---- chunks -------------------------------------------------------------------------------------
    @_guarded("read chunk ids")
    def chunk_ids(self, doc_id: str) -> set[str]:
        return set(self.chunks.get(where={"doc_id": doc_id}, include=[])["ids"])

    @_guarded("write chunks")
    def add_chunks(self, chunks: list[Chunk], vectors: np.ndarray, info: DocumentInfo) -> None:
        for start in range(0, len(chunks), 1000):
            part = chunks[start : start + 1000]
            self.chunks.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=vectors[start : start + 1000].tolist(),
                documents=[c.embed_text for c in part],
                metadatas=[chunk_metadata(c, info) for c in part],
            )

    @_guarded("delete chunks")
    def delete_chunks(self, ids: list[str]) -> None:
        if ids:
            self.chunks.delete(ids=ids)

    @_guarded("read the chunks")
    def all_chunks(self) -> list[Chunk]:
        """Every chunk in the store (for BM25 and the viewer), in document order."""
        return self.all_chunks_with_vectors(vectors=False)[0]

    @_guarded("read the chunks")
    def all_chunks_with_vectors(self, vectors: bool = True) -> tuple[list[Chunk], np.ndarray]:
        """Every chunk in document order, and (when asked) their embedding rows in the same order."""
        include = ["metadatas", "documents"] + (["embeddings"] if vectors else [])
        chunks: list[Chunk] = []
        rows: list[np.ndarray] = []
        # paged: one get() of a large collection exceeds SQLite's variable limit (fails near 40,000 records)
        for offset in range(0, self.chunks.count(), READ_PAGE):
            page = self.chunks.get(include=include, limit=READ_PAGE, offset=offset)
            chunks += [chunk_from_record(i, m, d) for i, m, d in zip(page["ids"], page["metadatas"], page["documents"], strict=True)]
            if vectors and page["ids"]:
                rows.append(np.asarray(page["embeddings"], dtype=np.float32))
        order = sorted(range(len(chunks)), key=lambda i: (chunks[i].doc_id, chunks[i].start))
        matrix = np.concatenate(rows)[order] if rows else np.zeros((0, 0), np.float32)
        return [chunks[i] for i in order], matrix

    @_guarded("count the chunks")
    def count(self) -> int:
        return self.chunks.count()

    def version(self) -> str:
        """Changes whenever documents are added, replaced or removed (keys the BM25 index). Reading it scans the
        ledger (86 ms at 156 documents, 140 ms at 1,544), so a read is trusted for settings.store_check_s and then
        refreshed in the background while callers keep the last value: changes made through this Store are seen at
        once, those of other processes a refresh later (about store_check_s)."""
        cached = self._version
        if cached is not None and time.monotonic() - cached[0] >= self.settings.store_check_s:
            if self._ledger_size() != cached[2]:  # cheap, and fails with the ledger's error when the store is gone
                cached = None  # a document came or went: read at once
            elif self._refreshing.acquire(blocking=False):
                threading.Thread(target=self._refresh_version, daemon=True, name="store-version").start()
        if cached is None:
            started, (version, size) = time.monotonic(), self._read_version()
            self._version = cached = (started, version, size)
        return cached[1]

    @_guarded("read the document ledger")
    def _ledger_size(self) -> int:
        return self.docs.count()

    def _refresh_version(self) -> None:
        try:
            started = time.monotonic()
            version, size = self._read_version()
            if self._version is not None:  # not invalidated by a local write meanwhile
                self._version = (started, version, size)
        except StoreError:
            self._version = None  # the next caller reads synchronously and sees the error
        finally:
            self._refreshing.release()

    @_guarded("read the document ledger")
    def _read_version(self) -> tuple[str, int]:
        ledger = self.docs.get(include=["metadatas"])
        entries = sorted((i, m["file_hash"], m["status"]) for i, m in zip(ledger["ids"], ledger["metadatas"], strict=True))
        return json.dumps(entries), len(entries)

    def reset(self) -> None:
        """Drop both collections (for --rebuild); an embedded store's folder is deleted and recreated."""
        if self.settings.chroma_url:
            for name in (self.chunks_name, self.docs_name):
                with contextlib.suppress(Exception):  # absent collection
                    self.client.delete_collection(name)
        else:
            with contextlib.suppress(Exception):
                self.client.close()
            wipe_embedded_store(self.settings)
        self.__init__(self.settings)


def wipe_embedded_store(settings: Settings) -> None:
    """Delete the embedded Chroma folder (data_dir/chroma), e.g. to rebuild a corrupted store from scratch."""
    if settings.chroma_url:
        raise StoreError("refusing to delete files of a Chroma server store; --rebuild drops its collections instead")
    _forget_embedded_system(str(settings.chroma_path))
    if settings.chroma_path.exists():
        shutil.rmtree(settings.chroma_path)


def chunk_metadata(chunk: Chunk, info: DocumentInfo) -> dict:
    return {
        "doc_id": chunk.doc_id,
        "vendor": chunk.vendor,
        "lang": chunk.lang,
        "section_path": json.dumps(list(chunk.section_path), ensure_ascii=False),
        "clause_ids": json.dumps(list(chunk.clause_ids)),
        "clause_id": chunk.clause_id,
        "start": chunk.start,
        "end": chunk.end,
        "text": chunk.text,
        "content_hash": chunk.content_hash,
        "effective_date": info.effective_date,
        "source_file": info.source_file,
    }


def chunk_from_record(chunk_id: str, meta: dict, document: str) -> Chunk:
    return Chunk(
        chunk_id=chunk_id,
        doc_id=meta["doc_id"],
        vendor=meta["vendor"],
        lang=meta["lang"],
        section_path=tuple(json.loads(meta["section_path"])),
        clause_ids=tuple(json.loads(meta["clause_ids"])),
        start=int(meta["start"]),
        end=int(meta["end"]),
        text=meta["text"],
        embed_text=document,
        content_hash=meta["content_hash"],
    )
