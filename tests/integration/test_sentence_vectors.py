"""Ingest embeds every sentence an answer may quote, once, so answering embeds only the question; the corpus-wide
progress bar gives a time-left estimate. Real model, real embedded Chroma."""

from __future__ import annotations

import re
import sqlite3

from clausewise.embedding import VectorCache
from clausewise.text import sha256
from ingest.pipeline import Ingestor
from ingest.sentences import sentence_texts
from rag.api import Engine
from tests.conftest import CORPUS_DIR


def _sentences_by_doc(store) -> dict[str, list[str]]:
    chunks = store.all_chunks()
    return {doc_id: sentence_texts([c for c in chunks if c.doc_id == doc_id], entry.raw_text)
            for doc_id, entry in store.ledger().items()}


def test_every_sentence_is_cached_and_an_answer_embeds_only_its_question(ingested_store) -> None:
    settings, store, report = ingested_store
    assert report.sentences_embedded > report.chunks  # a clause holds one sentence or more
    cache = VectorCache(settings.cache_path, settings.embedding_model)
    for doc_id, texts in _sentences_by_doc(store).items():
        assert texts, doc_id
        assert len(cache.get_many([sha256(t) for t in texts])) == len(texts), doc_id
    engine = Engine(settings)
    answer = engine.ask("How long does Kipsu retain data?", vendor="Kipsu", backend="extractive")
    assert answer.citations and not answer.refused
    embedder = engine.retriever.embedder
    # the question, and the question without its rarest word (the refusal model's key-word reliance); every sentence
    # came from the cache
    assert embedder.misses == 2 and embedder.disk_hits > 0


def test_reingest_embeds_no_sentence_twice_and_fills_in_missing_ones(warm_settings, capsys) -> None:
    ingestor = Ingestor(warm_settings)
    first = ingestor.ingest_corpus(CORPUS_DIR, progress=False)
    assert first.embedded == 0 and first.sentences_embedded == 0  # the warm cache knows them all
    # a store ingested before sentence vectors existed: one document's sentences are not cached
    kipsu = _sentences_by_doc(ingestor.store)["kipsu"]
    db = sqlite3.connect(str(warm_settings.cache_path))
    with db:
        db.executemany("DELETE FROM vectors WHERE hash = ?", [(sha256(t),) for t in kipsu])
        db.execute("DELETE FROM marks")
    db.close()
    again = Ingestor(warm_settings).ingest_corpus(CORPUS_DIR, progress=True)
    assert (again.unchanged, again.embedded, again.sentences_embedded) == (5, 0, len(kipsu))
    assert Ingestor(warm_settings).ingest_corpus(CORPUS_DIR, progress=False).sentences_embedded == 0
    bars = capsys.readouterr().err
    assert re.search(r"ingest: .*elapsed, .* left", bars), bars[-500:]  # the corpus-wide bar with time left
    assert "5/5 documents" in bars
