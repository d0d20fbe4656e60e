"""The Chroma store: a chunk collection per embedding model plus a document ledger collection.

Works the same with the embedded PersistentClient and a Chroma server (settings.chroma_url).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from urllib.parse import urlparse

import numpy as np

import clausewise.offline  # noqa: F401
from clausewise.settings import Settings
from clausewise.types import Chunk, DocumentInfo


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
        where = settings.chroma_url or str(settings.chroma_path)
        hint = (
            "is the Chroma server running? (chroma run --path DIR --port PORT)"
            if settings.chroma_url
            else "the store may be corrupted or from an incompatible version: run `clausewise ingest --rebuild`"
        )
        raise StoreError(f"cannot open the Chroma store at {where}: {exc.__class__.__name__}: {exc}. {hint}") from None


class Store:
    """Chunk vectors + metadata, and a ledger of documents, in Chroma."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = open_client(settings)
        suffix = _collection_suffix(settings.embedding_model)
        self.chunks_name = f"clauses-{suffix}"
        self.docs_name = f"documents-{suffix}"
        try:
            self.chunks = self.client.get_or_create_collection(
                self.chunks_name, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
            self.docs = self.client.get_or_create_collection(
                self.docs_name, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
        except Exception as exc:
            raise StoreError(
                f"cannot open collections in the Chroma store: {exc.__class__.__name__}: {exc}. "
                "Run `clausewise ingest --rebuild` to start a clean store."
            ) from None

    # ---- ledger -------------------------------------------------------------------------------------
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

    def mark(self, entry: LedgerEntry) -> None:
        """Write (or overwrite) a document's ledger record."""
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

    def remove_document(self, doc_id: str) -> None:
        """Delete a document's chunks, then its ledger record."""
        self.chunks.delete(where={"doc_id": doc_id})
        self.docs.delete(ids=[doc_id])

    # ---- chunks -------------------------------------------------------------------------------------
    def chunk_ids(self, doc_id: str) -> set[str]:
        return set(self.chunks.get(where={"doc_id": doc_id}, include=[])["ids"])

    def add_chunks(self, chunks: list[Chunk], vectors: np.ndarray, info: DocumentInfo) -> None:
        for start in range(0, len(chunks), 1000):
            part = chunks[start : start + 1000]
            self.chunks.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=vectors[start : start + 1000].tolist(),
                documents=[c.embed_text for c in part],
                metadatas=[chunk_metadata(c, info) for c in part],
            )

    def delete_chunks(self, ids: list[str]) -> None:
        if ids:
            self.chunks.delete(ids=ids)

    def all_chunks(self) -> list[Chunk]:
        """Every chunk in the store (for BM25 and the viewer), in document order."""
        result = self.chunks.get(include=["metadatas", "documents"])
        chunks = [chunk_from_record(i, m, d) for i, m, d in zip(result["ids"], result["metadatas"], result["documents"], strict=True)]
        return sorted(chunks, key=lambda c: (c.doc_id, c.start))

    def count(self) -> int:
        return self.chunks.count()

    def version(self) -> str:
        """Changes whenever documents are added, replaced or removed (keys the BM25 index)."""
        ledger = self.docs.get(include=["metadatas"])
        return json.dumps(sorted((i, m["file_hash"], m["status"]) for i, m in zip(ledger["ids"], ledger["metadatas"], strict=True)))

    def reset(self) -> None:
        """Drop both collections (for --rebuild)."""
        for name in (self.chunks_name, self.docs_name):
            with contextlib.suppress(Exception):  # absent collection
                self.client.delete_collection(name)
        self.__init__(self.settings)


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
