"""The ingest pipeline, top to bottom: discover → load → clauses → chunks → embed (cached) → Chroma.

Resumable: a document is marked "pending" in the ledger before its chunks are written and "done"
after; a re-run cleans up anything pending, so a killed ingest converges to the same store.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from clausewise.embedding import VectorCache, embed_cached, get_embedder
from clausewise.settings import Settings
from clausewise.store import LedgerEntry, Store, StoreError, wipe_embedded_store
from clausewise.text import sha256
from clausewise.types import Document, DocumentInfo
from ingest.chunk import chunk_clauses
from ingest.load import IngestError, discover_files, load_document, load_manifest
from ingest.sentences import embed_sentences, missing_sentences, sentence_texts
from ingest.structure import extract_clauses


@dataclass
class IngestReport:
    """Summary of one ingest run (what `--json` prints)."""

    documents: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    sentences_embedded: int = 0  # clause sentences embedded for answering (settings.sentence_vectors)
    notices: list[str] = field(default_factory=list)
    seconds: float = 0.0
    embedded: int = 0
    multilingual_embedded: int = 0  # chunk texts embedded for the second, multilingual index

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def exit_code(self) -> int:
        """0 = all ingested, 2 = partial (some files failed), 1 = nothing could be ingested."""
        if not self.errors:
            return 0
        return 2 if self.documents else 1


# Bumped whenever a change to cleaning, clause parsing, sentence splitting or chunking can move a clause or chunk
# boundary: a store ingested by earlier code is re-chunked on its next ingest (vectors come from the content-hash
# cache, so unchanged text is not embedded again). 2: headings run into their paragraph, sentences run together.
PARSING_VERSION = 2


def _fingerprint(document: Document, settings: Settings) -> str:
    """Changes when the file, its manifest entry, the chunking settings or the parsing code change."""
    params = [settings.chunk_min_words, settings.chunk_max_words, settings.embedding_model, PARSING_VERSION]
    return sha256(document.file_hash + json.dumps(asdict(document.info), sort_keys=True) + json.dumps(params))


class IngestProgress:
    """One bar over the corpus in bytes of policy text, so its time-left estimate follows the embedding work; the
    bytes of unchanged documents (skipped in milliseconds) leave the total instead of inflating the rate."""

    def __init__(self, files: list[Path], disable: bool = False) -> None:
        self.sizes = {p: _size(p) for p in files}
        self.count, self.finished = len(files), 0
        self.bar = tqdm(total=sum(self.sizes.values()), desc="ingest", unit="B", unit_scale=True, disable=disable,
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed} elapsed, {remaining} left, {rate_fmt}{postfix}]")

    def done(self, path: Path, skipped: bool) -> None:
        self.finished += 1
        if skipped:
            self.bar.total -= self.sizes[path]
        else:
            self.bar.update(self.sizes[path])
        self.bar.set_postfix_str(f"{self.finished}/{self.count} documents", refresh=True)

    def close(self) -> None:
        self.bar.close()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


class Ingestor:
    """Holds the store, model and cache for one or more ingest calls (the UI reuses one)."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        self.settings = settings
        self._store_error: StoreError | None = None
        if store is None:
            try:
                store = Store(settings)
            except StoreError as exc:
                if settings.chroma_url:
                    raise
                # a corrupted embedded store: only `ingest_corpus(rebuild=True)` can use this Ingestor (it wipes it)
                self._store_error = exc
        self._store = store
        self.cache = VectorCache(settings.cache_path, settings.embedding_model)
        self._embedder = None

    @property
    def store(self) -> Store:
        if self._store is None:
            assert self._store_error is not None
            raise self._store_error
        return self._store

    @property
    def embedder(self):
        if self._embedder is None:
            self._embedder = get_embedder(self.settings.embedding_model, self.settings.embed_batch_size)
        return self._embedder

    def recover(self) -> int:
        """Remove the partial writes of an interrupted ingest. Returns how many documents were cleaned."""
        pending = [doc_id for doc_id, e in self.store.ledger().items() if e.status != "done"]
        for doc_id in pending:
            self.store.remove_document(doc_id)
        return len(pending)

    def ingest_document(self, document: Document, report: IngestReport, progress: bool = False) -> None:
        """Write one document's chunks unless the store already holds exactly this version."""
        info = document.info
        fingerprint = _fingerprint(document, self.settings)
        previous = self.store.ledger().get(info.doc_id)
        if previous and previous.status == "done" and previous.file_hash == fingerprint:
            report.unchanged += 1
            report.chunks += previous.chunk_count
            self._sentence_vectors(document, fingerprint, None, report, progress)  # stores ingested before they existed
            return
        clauses = extract_clauses(info.doc_id, document.raw_text)
        chunks = chunk_clauses(
            clauses, document.raw_text, info.vendor, self.settings.chunk_min_words, self.settings.chunk_max_words
        )
        if not chunks:
            raise IngestError(f"{document.path.name}: no policy text found after removing page chrome")
        languages = tuple(dict.fromkeys(c.lang for c in chunks))
        bar = tqdm(total=len(chunks), desc=f"embed {info.doc_id}", unit="chunk", leave=False, disable=not progress)
        before = self.embedder_calls()
        vectors = embed_cached(self.embedder, self.cache, [c.embed_text for c in chunks], on_batch=bar.update)
        bar.close()
        report.embedded += self.embedder_calls() - before
        self._sentence_vectors(document, fingerprint, chunks, report, progress)
        entry = LedgerEntry(info, fingerprint, "pending", len(chunks), languages, document.raw_text, str(document.path))
        self.store.mark(entry)
        stale = self.store.chunk_ids(info.doc_id) - {c.chunk_id for c in chunks}
        self.store.delete_chunks(sorted(stale))
        self.store.add_chunks(chunks, vectors, info)
        self.store.mark(LedgerEntry(**{**entry.__dict__, "status": "done"}))
        report.chunks += len(chunks)
        if previous:
            report.updated += 1
        else:
            report.added += 1

    def _sentence_vectors(self, document: Document, fingerprint: str, chunks, report: IngestReport, progress: bool) -> None:
        """Cache the vectors of every sentence an answer may quote (settings.sentence_vectors), once per version."""
        if not self.settings.sentence_vectors or self.cache.marked(fingerprint):
            return
        if chunks is None:
            clauses = extract_clauses(document.info.doc_id, document.raw_text)
            chunks = chunk_clauses(clauses, document.raw_text, document.info.vendor, self.settings.chunk_min_words,
                                   self.settings.chunk_max_words)
        texts = missing_sentences(self.cache, sentence_texts(chunks, document.raw_text))
        with tqdm(total=len(texts), desc=f"sentences {document.info.doc_id}", unit="text", leave=False,
                  disable=not progress or not texts) as bar:
            report.sentences_embedded += embed_sentences(self.embedder, self.cache, texts, on_batch=bar.update)
        self.cache.mark(fingerprint)

    def embedder_calls(self) -> int:
        return self.cache.misses

    def ingest_corpus(self, corpus_dir: Path, rebuild: bool = False, progress: bool = True) -> IngestReport:
        """Ingest every policy file of `corpus_dir`; remove documents whose files left that folder."""
        started = time.perf_counter()
        report = IngestReport()
        corpus_dir = corpus_dir.resolve()
        if rebuild:
            if self._store is None:  # the store could not even be opened: start from an empty folder
                wipe_embedded_store(self.settings)
                self._store, self._store_error = Store(self.settings), None
                report.notices.append(f"deleted the unreadable store at {self.settings.chroma_path} and started a new one")
            else:
                self.store.reset()
        if (cleaned := self.recover()):
            report.notices.append(f"cleaned up {cleaned} document(s) left half-written by an interrupted ingest")
        try:
            manifest = load_manifest(corpus_dir, self.settings.manifest)
        except IngestError as exc:
            report.errors.append({"path": str(corpus_dir / self.settings.manifest), "error": str(exc)})
            manifest = {}
        seen: dict[str, Path] = {}
        files = discover_files(corpus_dir, self.settings.manifest)
        bar = IngestProgress(files, disable=not progress)
        for path in files:
            unchanged = report.unchanged
            try:
                document = load_document(path, manifest.get(path.name), int(self.settings.max_file_mb * 1e6))
                doc_id = document.info.doc_id
                if doc_id in seen:
                    raise IngestError(f"{path.name}: document id '{doc_id}' is already used by {seen[doc_id].name}")
                seen[doc_id] = path
                if document.info.inferred:
                    report.notices.append(
                        f"{path.name}: not in {self.settings.manifest}; vendor '{document.info.vendor}' "
                        "taken from its title or file name (add it to the manifest to set it)"
                    )
                self.ingest_document(document, report, progress)
                report.documents += 1
            except IngestError as exc:
                report.errors.append({"path": str(path), "error": str(exc)})
            bar.done(path, skipped=report.unchanged > unchanged)
        bar.close()
        for doc_id, entry in self.store.ledger().items():
            in_corpus = Path(entry.path).parent.resolve().is_relative_to(corpus_dir) if entry.path else False
            if doc_id not in seen and in_corpus:
                self.store.remove_document(doc_id)
                report.removed += 1
        self.sync_multilingual(report, progress)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def ingest_file(self, path: Path, vendor: str | None = None, progress: bool = False) -> IngestReport:
        """Ingest a single file (an upload) under an explicit vendor name, keeping everything else."""
        started = time.perf_counter()
        report = IngestReport()
        self.recover()
        try:
            document = load_document(path, None, int(self.settings.max_file_mb * 1e6))
            if vendor:
                info = DocumentInfo(**{**asdict(document.info), "vendor": vendor, "aliases": (vendor,), "inferred": False})
                document = Document(info=info, path=document.path, raw_text=document.raw_text, file_hash=document.file_hash)
            self.ingest_document(document, report, progress)
            report.documents = 1
        except IngestError as exc:
            report.errors.append({"path": str(path), "error": str(exc)})
        self.sync_multilingual(report, progress)
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def sync_multilingual(self, report: IngestReport, progress: bool = False) -> None:
        """Embed the new chunks for the multilingual index too (settings.multilingual_ingest; cached by content)."""
        if not (self.settings.multilingual_model and self.settings.multilingual_ingest):
            return
        from clausewise.embedding import EmbeddingError
        from clausewise.multilingual import MultilingualIndex

        try:
            index = MultilingualIndex(self.settings, self.store)
            with tqdm(desc="multilingual index", unit="chunk", leave=False, disable=not progress) as bar:
                report.multilingual_embedded += index.sync(on_batch=bar.update)
            index.cache.close()
        except EmbeddingError as exc:
            report.notices.append(f"multilingual index not built: {exc}")
