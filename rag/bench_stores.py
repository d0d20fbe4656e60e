"""`clausewise bench` stores: the bundled (or OPP-115) corpus ingested into a fresh store, and synthetic stores of N
chunks recombined from the real clauses (their embeddings reused, nothing embedded again). Never the user's store."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from pathlib import Path

import clausewise.offline  # noqa: F401  (before any ML import)


def dir_mb(path: Path) -> float:
    total = sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())
    return round(total / 1e6, 2)


def settings_for(data_dir: Path):
    """Settings of a bench store in `data_dir` (embedded Chroma, extractive answers)."""
    from clausewise.settings import Settings

    return Settings(data_dir=data_dir, chroma_url=None, backend="extractive")


def ingest_scale(data_dir: Path, corpus_dir: Path | None, fixed_files: Sequence[Path], vector_cache: Path | None, progress: bool) -> dict:
    """Ingest into a fresh store; throughput in chunks/s and MB/s of policy files."""
    from rag.evaluate import build_ours, seed_vector_cache
    from rag.goldsets import Corpus

    settings = settings_for(data_dir)
    if vector_cache:
        seed_vector_cache(Path(vector_cache), settings.cache_path)
    if corpus_dir is not None:
        from ingest.load import discover_files

        files = discover_files(corpus_dir, settings.manifest)
    else:
        files = list(fixed_files)
    corpus = Corpus("bench", corpus_dir, files, {p.name: p.name.removesuffix(".txt") for p in fixed_files})
    built = build_ours(settings, corpus, progress)
    mb = sum(p.stat().st_size for p in files) / 1e6
    seconds = built["seconds"] or 1e-9
    return {
        "documents": built["documents"],
        "chunks": built["chunks"],
        "embedded": built["embedded"],
        "policy_mb": round(mb, 3),
        "seconds": round(seconds, 2),
        "chunks_per_s": round(built["chunks"] / seconds, 1),
        "texts_per_s": round((built["embedded"] + built.get("sentences_embedded", 0)) / seconds, 1),
        "sentences_embedded": built.get("sentences_embedded", 0),
        "mb_per_s": round(mb / seconds, 4),
        "embedding_cache_seeded": bool(vector_cache),
        "files": files,
    }


def build_synthetic(source_settings, size: int, data_dir: Path, seed: int = 0, progress: bool = False) -> tuple[dict, list]:
    """A store of `size` chunks: the real documents plus fake vendors made of recombined real chunks (embeddings reused).

    Returns (stats, llama-index TextNodes with the same chunks and embeddings for the baseline).
    """
    import numpy as np
    from llama_index.core.schema import TextNode
    from tqdm import tqdm

    from clausewise.store import LedgerEntry, Store, chunk_from_record, chunk_metadata
    from clausewise.text import sha256
    from clausewise.types import Chunk, DocumentInfo

    started = time.perf_counter()
    source = Store(source_settings)
    ledger = {k: e for k, e in source.ledger().items() if e.status == "done"}
    got = source.chunks.get(include=["embeddings", "metadatas", "documents"])
    pool = [chunk_from_record(i, m, d) for i, m, d in zip(got["ids"], got["metadatas"], got["documents"], strict=True)]
    vectors = np.asarray(got["embeddings"], dtype=np.float32)
    if not pool:
        raise ValueError("the source store is empty: nothing to recombine")
    settings = settings_for(data_dir)
    from rag.evaluate import seed_vector_cache

    seed_vector_cache(source_settings.cache_path, settings.cache_path)  # sentence vectors of the real clauses
    store = Store(settings)
    # the multilingual index too (English questions blend it in), from the real clauses' vectors
    multilingual = None
    if settings.multilingual_model:
        from clausewise.multilingual import MultilingualIndex

        multilingual_vectors = MultilingualIndex(source_settings, source).vectors(got["ids"])
        multilingual = MultilingualIndex(settings, store).collection
    sentences: set[str] = set()
    pending_ids, pending_vecs, pending_docs, pending_meta, pending_multi, nodes = [], [], [], [], [], []

    def add(chunk: Chunk, position: int, info: DocumentInfo) -> None:
        vector = vectors[position]
        pending_ids.append(chunk.chunk_id)
        pending_vecs.append(vector)
        if multilingual is not None:
            pending_multi.append(multilingual_vectors[position])
        pending_docs.append(chunk.embed_text)
        pending_meta.append(chunk_metadata(chunk, info))
        nodes.append(TextNode(id_=chunk.chunk_id, text=chunk.text, embedding=[float(x) for x in vector],
                              metadata={"file_name": info.source_file}, start_char_idx=chunk.start, end_char_idx=chunk.end))
        if len(pending_ids) >= 2000:
            flush()

    def flush() -> None:
        if pending_ids:
            store.chunks.upsert(ids=list(pending_ids), embeddings=np.stack(pending_vecs).tolist(),
                                documents=list(pending_docs), metadatas=list(pending_meta))
            if multilingual is not None:
                multilingual.upsert(ids=list(pending_ids), embeddings=np.stack(pending_multi).tolist())
            bar.update(len(pending_ids))
            for buffer in (pending_ids, pending_vecs, pending_docs, pending_meta, pending_multi):
                buffer.clear()

    bar = tqdm(total=size, desc=f"synthetic {size:,}", unit="chunk", disable=not progress)
    count = 0
    for i, chunk in enumerate(pool):  # the real documents first, as they are
        if count >= size:
            break
        entry = ledger.get(chunk.doc_id)
        if entry is None:
            continue
        add(chunk, i, entry.info)
        count += 1
    for entry in ledger.values():
        store.mark(entry)
    rng = random.Random(seed)
    number = 0
    while count < size:
        number += 1
        n = min(rng.randint(40, 90), size - count)
        picks = rng.sample(range(len(pool)), n) if n <= len(pool) else rng.choices(range(len(pool)), k=n)
        doc_id, vendor = f"synthetic-{number:05d}", f"synth{number:05d}"
        info = DocumentInfo(doc_id=doc_id, vendor=vendor, source_file=f"{doc_id}.txt", title=vendor, aliases=(vendor,))
        parts, offset, doc_chunks = [], 0, []
        for j, idx in enumerate(picks):
            real = pool[idx]
            start, end = offset, offset + len(real.text)
            parts.append(real.text)
            offset = end + 2
            fake = Chunk(chunk_id=f"{doc_id}-{j:03d}", doc_id=doc_id, vendor=vendor, lang=real.lang,
                         section_path=real.section_path, clause_ids=(f"{doc_id}/c{j:03d}",), start=start, end=end,
                         text=real.text, embed_text=real.embed_text, content_hash=real.content_hash)
            doc_chunks.append(fake)
            add(fake, idx, info)
        raw = "\n\n".join(parts) + "\n"
        if settings.sentence_vectors:
            from ingest.sentences import sentence_texts

            sentences.update(sentence_texts(doc_chunks, raw))
        langs = tuple(dict.fromkeys(pool[idx].lang for idx in picks))
        store.mark(LedgerEntry(info, sha256(raw), "done", n, langs, raw, ""))
        count += n
    flush()
    bar.close()
    sentences_embedded = 0
    if sentences:  # what an ingest of these documents would embed: only sentences the real clauses lack
        from clausewise.embedding import VectorCache, get_embedder
        from ingest.sentences import embed_sentences, missing_sentences

        cache = VectorCache(settings.cache_path, settings.embedding_model)
        embedder = get_embedder(settings.embedding_model, settings.embed_batch_size)
        sentences_embedded = embed_sentences(embedder, cache, missing_sentences(cache, sorted(sentences)))
        cache.close()
    seconds = time.perf_counter() - started
    stats = {
        "chunks": store.count(),
        "multilingual_chunks": multilingual.count() if multilingual is not None else 0,
        "vendors": len(ledger) + number,
        "fake_vendors": number,
        "sentences": len(sentences),
        "sentences_embedded": sentences_embedded,
        "seconds": round(seconds, 2),
        "chunks_per_s": round(store.count() / seconds, 1),
        "store_mb": dir_mb(settings.data_dir),
        "settings": settings,
    }
    return stats, nodes
