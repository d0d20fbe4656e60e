"""The baseline clausewise is measured against: a plain llama-index RAG pipeline, as its quick-start builds it.

SimpleDirectoryReader over the same policy files → the default SentenceSplitter → a VectorStoreIndex over a
Chroma collection, embedded with the SAME packaged model (llama-index's HuggingFaceEmbedding pointed at
`clausewise.embedding.resolve_model_path`) → dense top-k retrieval. No hybrid search, no clause structure,
no vendor detection: a vendor can only be restricted by a `file_name` metadata filter.

Used by `clausewise eval` (rag.evaluate) and `clausewise bench` (rag.bench); never touches the user's store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import clausewise.offline  # noqa: F401  (before any ML import)
from clausewise.embedding import resolve_model_path

COLLECTION = "baseline-llamaindex"


@dataclass(frozen=True)
class BaselineHit:
    """One retrieved node: its file, [start, end) offsets into that file's text (-1 when unknown), text, score."""

    source: str
    start: int
    end: int
    text: str
    score: float


_EMBED_MODELS: dict[str, object] = {}


def configure_llama_index(model_name: str):
    """The HuggingFaceEmbedding for `model_name`; sets llama-index's global LLM to MockLLM (its default is OpenAI)."""
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core.llms import MockLLM
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    if model_name not in _EMBED_MODELS:
        _EMBED_MODELS[model_name] = HuggingFaceEmbedding(model_name=str(resolve_model_path(model_name)), device="cpu")
    embed = _EMBED_MODELS[model_name]
    LlamaSettings.llm = MockLLM()  # explicit: no OpenAI default, and unlike `= None` it prints nothing
    LlamaSettings.embed_model = embed
    return embed


def _file_key(files: Sequence[Path]) -> list[list]:
    return [[p.name, p.stat().st_size] for p in sorted(files, key=lambda p: p.name)]


class BaselinePipeline:
    """The llama-index pipeline persisted in `persist_dir` (its own Chroma store); rebuilt only when the files change."""

    def __init__(self, persist_dir: Path, model_name: str) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        self.persist_dir = Path(persist_dir)
        self.persist_dir.mkdir(parents=True, exist_ok=True)
        self.model_name = model_name
        self.embed_model = configure_llama_index(model_name)
        self.client = chromadb.PersistentClient(
            path=str(self.persist_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        self.collection = self.client.get_or_create_collection(COLLECTION, metadata={"hnsw:space": "cosine"})
        self._index = None
        self._texts: dict[str, str] = {}

    @property
    def marker(self) -> Path:
        return self.persist_dir / "baseline.json"

    def _vector_store(self):
        from llama_index.vector_stores.chroma import ChromaVectorStore

        return ChromaVectorStore(chroma_collection=self.collection)

    def _reset(self) -> None:
        self.marker.unlink(missing_ok=True)
        self.client.delete_collection(COLLECTION)
        self.collection = self.client.get_or_create_collection(COLLECTION, metadata={"hnsw:space": "cosine"})
        self._index = None

    def build(self, files: Sequence[Path], progress: bool = False) -> dict:
        """Index `files` (reusing a previous build of the same files). Returns {nodes, seconds, reused}."""
        from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex

        files = [Path(f) for f in files]
        key = _file_key(files)
        documents = SimpleDirectoryReader(input_files=[str(f) for f in files]).load_data()
        self._texts = {d.metadata["file_name"]: d.text for d in documents}
        if self.marker.is_file():
            saved = json.loads(self.marker.read_text(encoding="utf-8"))
            if saved.get("files") == key and self.collection.count() == saved.get("nodes"):
                self._index = VectorStoreIndex.from_vector_store(self._vector_store(), embed_model=self.embed_model)
                return {"nodes": saved["nodes"], "seconds": saved["seconds"], "reused": True}
        self._reset()
        started = time.perf_counter()
        storage = StorageContext.from_defaults(vector_store=self._vector_store())
        self._index = VectorStoreIndex.from_documents(
            documents, storage_context=storage, embed_model=self.embed_model, show_progress=progress
        )  # default transformations: SentenceSplitter(chunk_size=1024, chunk_overlap=200)
        seconds = round(time.perf_counter() - started, 3)
        nodes = self.collection.count()
        self.marker.write_text(json.dumps({"files": key, "nodes": nodes, "seconds": seconds}), encoding="utf-8")
        return {"nodes": nodes, "seconds": seconds, "reused": False}

    def add_embedded_nodes(self, nodes: Sequence, batch: int = 5000) -> None:
        """Add llama-index TextNodes that already carry embeddings (no re-embedding; used by the benchmark)."""
        from llama_index.core import VectorStoreIndex

        store = self._vector_store()
        for start in range(0, len(nodes), batch):
            store.add(list(nodes[start : start + batch]))
        self._index = VectorStoreIndex.from_vector_store(store, embed_model=self.embed_model)

    def search(self, question: str, files: Sequence[str] | None = None, k: int = 10) -> list[BaselineHit]:
        """Dense top-k nodes for `question`, restricted to the given file names when set (best first)."""
        from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters

        if self._index is None:
            raise RuntimeError("the baseline index is not built: call build() first")
        filters = None
        if files:
            files = list(files)
            one = len(files) == 1
            filters = MetadataFilters(
                filters=[
                    MetadataFilter(key="file_name", value=files[0] if one else files, operator=FilterOperator.EQ if one else FilterOperator.IN)
                ]
            )
        retriever = self._index.as_retriever(similarity_top_k=k, filters=filters)
        hits = []
        for item in retriever.retrieve(question):
            node = item.node
            source = node.metadata.get("file_name", "")
            text = node.get_content()
            start = node.start_char_idx if node.start_char_idx is not None else -1
            end = node.end_char_idx if node.end_char_idx is not None else -1
            raw = self._texts.get(source)
            if start >= 0 and raw is not None and raw[start:end] != text:
                start = end = -1  # offsets do not point into the file text we know: match by text only
            hits.append(BaselineHit(source, start, end, text, float(item.score or 0.0)))
        return hits
