"""Shared fixtures for the whole test suite (real Chroma, real embedding model, no mocks).

Fixtures other test modules may rely on:

* ``ingested_store`` (session): the bundled ``corpus/`` ingested ONCE into a session temp dir.
  Yields ``IngestedStore(settings, store, report)``, a named tuple, so both
  ``settings, store, report = ingested_store`` and ``ingested_store.store`` work.
  Treat it as read-only: retrieval/answer tests share it. Tests that need to change a store
  must build their own (``warm_settings`` makes that cheap).
* ``warm_settings`` (function): ``Settings`` for a fresh, empty store in ``tmp_path`` whose vector
  cache is pre-filled with the bundled corpus's vectors, so ingesting the corpus (or a lightly
  edited copy) into it embeds only the texts that changed.
* ``settings_factory`` (function): ``settings_factory(data_dir=None, **overrides) -> Settings``
  with ``chroma_url=None`` (embedded store); ``data_dir`` defaults to a fresh folder in ``tmp_path``.
* ``corpus_copy`` (function): a private copy of ``corpus/`` (policies + manifest) to edit or delete in.
* ``run_clausewise`` (session): runs the real ``clausewise`` console script in a subprocess:
  ``run_clausewise("status", "--json", "--data-dir", d, env={...})`` -> ``CompletedProcess``;
  ``clausewise_argv`` is the bare command (for ``Popen``).
* ``store_snapshot`` (session): ``store_snapshot(data_dir) -> dict`` read by a NEW process
  (chunk ids, (doc_id, start, end) keys, texts, vendors, ledger, count): what a restarted app sees.
* ``seed_vector_cache`` (session): ``seed_vector_cache(source_settings, data_dir)`` copies a vector cache.

An autouse session fixture removes every ``CLAUSEWISE_*`` variable inherited from the developer's
shell, points ``CLAUSEWISE_DATA_DIR`` at a temp dir and ``CLAUSEWISE_CONFIG`` at a missing file, so
no test (nor any ``clausewise`` subprocess, which inherits the environment) reads or writes the
user's store or config.
The embedding model is loaded once per test process (``get_embedder`` is ``lru_cache``d).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from clausewise.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT / "corpus"
SEED_DEV = ROOT / "tests" / "fixtures" / "seed_dev.jsonl"


class IngestedStore(NamedTuple):
    settings: Settings
    store: object  # clausewise.store.Store (imported lazily: chromadb is slow to import)
    report: object  # ingest.pipeline.IngestReport


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for an embedded Chroma store in `data_dir` (never a server, whatever the environment says)."""
    return Settings(data_dir=data_dir, chroma_url=None, **overrides)


def copy_vector_cache(source: Settings, data_dir: Path) -> None:
    """Copy the sqlite vector cache of `source` into `data_dir` (consistent even while `source` has it open)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(str(source.cache_path))
    dst = sqlite3.connect(str(data_dir / source.cache_path.name))
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


@pytest.fixture(scope="session", autouse=True)
def isolated_clausewise_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No test touches the user's store or config: CLAUSEWISE_DATA_DIR is a throwaway folder."""
    default_dir = tmp_path_factory.mktemp("default-data-dir")
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("CLAUSEWISE_")]:
            mp.delenv(key)  # e.g. CLAUSEWISE_CHROMA_URL would send CLI subprocesses to the user's server
        mp.setenv("CLAUSEWISE_DATA_DIR", str(default_dir))
        mp.setenv("CLAUSEWISE_CONFIG", str(default_dir / "no-clausewise.toml"))
        # the multilingual index is built on the first question that needs it, not by every test's ingest
        # (tests/integration/test_multilingual.py covers building it at ingest, the default)
        mp.setenv("CLAUSEWISE_MULTILINGUAL_INGEST", "false")
        yield default_dir


@pytest.fixture
def settings_factory(tmp_path: Path) -> Callable[..., Settings]:
    counter = iter(range(1_000_000))

    def make(data_dir: Path | None = None, **overrides: object) -> Settings:
        return make_settings(data_dir or tmp_path / f"data-{next(counter)}", **overrides)

    return make


@pytest.fixture(scope="session")
def ingested_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IngestedStore]:
    """The bundled corpus ingested once per session (real model, real embedded Chroma). Read-only."""
    from ingest.pipeline import Ingestor

    # as the product ingests by default: with the multilingual index, which English questions blend in too
    settings = make_settings(tmp_path_factory.mktemp("ingested-store") / "data", multilingual_ingest=True)
    ingestor = Ingestor(settings)
    report = ingestor.ingest_corpus(CORPUS_DIR, progress=False)
    assert not report.errors, report.errors
    yield IngestedStore(settings, ingestor.store, report)
    ingestor.cache.close()


@pytest.fixture(scope="session")
def seed_vector_cache() -> Callable[[Settings, Path], None]:
    return copy_vector_cache


@pytest.fixture
def warm_settings(ingested_store: IngestedStore, tmp_path: Path) -> Settings:
    """A fresh empty store whose vector cache already knows every chunk of the bundled corpus."""
    data_dir = tmp_path / "warm-data"
    copy_vector_cache(ingested_store.settings, data_dir)
    return make_settings(data_dir)


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A private copy of the bundled corpus (policies and manifest) that a test may edit."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS_DIR, target)
    return target


def _clausewise_command() -> list[str]:
    script = Path(sys.executable).with_name("clausewise")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "clausewise.cli"]


@pytest.fixture(scope="session")
def clausewise_argv() -> list[str]:
    """The command that starts the installed console script."""
    return _clausewise_command()


@pytest.fixture(scope="session")
def run_clausewise(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real console script; `env` entries are added to (None: removed from) the inherited environment."""
    cwd = tmp_path_factory.mktemp("cli-cwd")

    def run(
        *args: object, env: dict[str, str | None] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        full_env = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        return subprocess.run(
            [*_clausewise_command(), *map(str, args)],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


_SNAPSHOT = """
import json, sys
from clausewise.settings import Settings
from clausewise.store import Store
store = Store(Settings(data_dir=sys.argv[1], chroma_url=None))
chunks = store.all_chunks()
print(json.dumps({
    "ids": [c.chunk_id for c in chunks],
    "keys": [[c.doc_id, c.start, c.end] for c in chunks],
    "texts": [c.text for c in chunks],
    "vendors": {c.chunk_id: c.vendor for c in chunks},
    "ledger": {k: {"status": e.status, "chunks": e.chunk_count, "vendor": e.info.vendor} for k, e in store.ledger().items()},
    "count": store.count(),
}))
"""


@pytest.fixture(scope="session")
def store_snapshot() -> Callable[[Path], dict]:
    """What a freshly started process finds in the store at `data_dir`."""

    def snapshot(data_dir: Path) -> dict:
        proc = subprocess.run(
            [sys.executable, "-c", _SNAPSHOT, str(data_dir)], capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.strip().splitlines()[-1])

    return snapshot
