"""The CLI against a real Chroma server (`chroma run` from the venv): ingest, ask, restart, server gone.

No mocks: a real `chroma run` process on a free loopback port, the real `clausewise` console script in
subprocesses. The vector cache of the session's ingested corpus is copied into each data dir, so ingest
embeds nothing and the test stays quick.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clausewise.settings import Settings
from clausewise.store import StoreError
from rag.api import Engine
from tests.conftest import CORPUS_DIR, IngestedStore, copy_vector_cache
from tests.support.fake_ollama import unused_local_url

pytestmark = pytest.mark.slow  # real servers / subprocesses: tens of seconds

CHROMA = Path(sys.executable).with_name("chroma")
QUESTION = "How long does Kipsu retain data?"
VENDORS = {"kim.cc", "Dr. Kim's Veterinary Clinic", "Kipsu", "Kaizenify", "Kalodata"}


class ChromaServer:
    """`chroma run --path PATH --host 127.0.0.1 --port PORT` as a child process."""

    def __init__(self, path: Path, port: int, log: Path) -> None:
        self.path, self.port, self.log = path, port, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> ChromaServer:
        assert CHROMA.is_file(), f"the chroma CLI is missing from the venv: {CHROMA}"
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"chroma run exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            with contextlib.suppress(urllib.error.URLError, OSError), urllib.request.urlopen(
                f"{self.url}/api/v2/heartbeat", timeout=1
            ) as response:
                if response.status == 200:
                    return self
            time.sleep(0.2)
        self.stop(signal.SIGKILL)
        pytest.fail(f"chroma run did not answer its heartbeat within {timeout:g} s:\n{self.log.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    port = int(unused_local_url().rsplit(":", 1)[1])
    server = ChromaServer(tmp_path / "chroma-server-db", port, tmp_path / "chroma.log")
    try:
        yield server.start()
    finally:
        server.stop(signal.SIGKILL)


@pytest.fixture
def app_data(ingested_store: IngestedStore, tmp_path: Path) -> Path:
    """A data dir for the CLI (it holds only the vector cache here: the store lives on the server)."""
    data_dir = tmp_path / "app-data"
    copy_vector_cache(ingested_store.settings, data_dir)
    return data_dir


def cli_env() -> dict[str, str | None]:
    # backend auto with no Ollama listening: the answer is the extractive one, deterministically
    return {"CLAUSEWISE_OLLAMA_HOST": unused_local_url(), "OLLAMA_HOST": None, "CLAUSEWISE_BACKEND": None}


def ask_json(run_clausewise: Callable, url: str, data_dir: Path) -> dict:
    proc = run_clausewise("ask", QUESTION, "--chroma-url", url, "--data-dir", data_dir, "--json", env=cli_env())
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def status_json(run_clausewise: Callable, url: str, data_dir: Path) -> dict:
    proc = run_clausewise("status", "--chroma-url", url, "--data-dir", data_dir, "--json", env=cli_env())
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def assert_cited_kipsu_retention(answer: dict) -> None:
    assert not answer["refused"], answer["text"]
    assert answer["vendors"] == ["Kipsu"]
    assert answer["citations"], "the answer must cite the clauses it quotes"
    assert {c["vendor"] for c in answer["citations"]} == {"Kipsu"}
    assert any("retain" in c["quote"] for c in answer["citations"]), answer["citations"]
    assert answer["text"].startswith("Kipsu's policy says:")
    assert "[1]" in answer["text"]
    assert answer["backend"] == "extractive"


def assert_server_down_error(proc: subprocess.CompletedProcess[str], url: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == "", "nothing but the error may be printed"
    assert "Traceback" not in proc.stderr, proc.stderr
    message = proc.stderr.strip()
    assert message.startswith("clausewise: error: cannot open the Chroma store at " + url), message
    assert f"Is the Chroma server running at {url}?" in message
    assert "chroma run --path DIR --port PORT" in message, "the error must say how to start the server"
    assert len(message.splitlines()) == 1, message


def test_ingest_ask_restart_and_server_loss(
    chroma_server: ChromaServer, app_data: Path, run_clausewise: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    url = chroma_server.url

    # ingest the bundled corpus into the server
    proc = run_clausewise("ingest", CORPUS_DIR, "--chroma-url", url, "--data-dir", app_data, "--json", env=cli_env())
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["documents"], report["added"], report["errors"]) == (5, 5, [])
    assert report["chunks"] > 100
    assert (chroma_server.path / "chroma.sqlite3").is_file(), "the server must hold the store"
    assert not (app_data / "chroma").exists(), "with --chroma-url nothing may be written to an embedded store"

    first = ask_json(run_clausewise, url, app_data)
    assert_cited_kipsu_retention(first)
    status_before = status_json(run_clausewise, url, app_data)
    assert status_before["store"] == url
    assert {row["vendor"] for row in status_before["vendors"]} == VENDORS
    assert sum(row["chunks"] for row in status_before["vendors"]) == report["chunks"]
    assert not any(row.get("warnings") for row in status_before["vendors"])

    # a running app (the Engine the UI holds) talking to the same server
    engine = Engine(Settings(chroma_url=url, data_dir=app_data, backend="extractive"))
    assert engine.ask(QUESTION).text == first["text"]

    # restart the server on the same path: everything is still there
    chroma_server.stop()
    chroma_server.start()
    assert engine.ask(QUESTION).text == first["text"], "the running app must recover without a restart of its own"
    again = ask_json(run_clausewise, url, app_data)
    assert_cited_kipsu_retention(again)
    assert again["text"] == first["text"]
    assert again["citations"] == first["citations"]
    assert status_json(run_clausewise, url, app_data) == status_before
    proc = run_clausewise("ingest", CORPUS_DIR, "--chroma-url", url, "--data-dir", app_data, "--json", env=cli_env())
    assert proc.returncode == 0, proc.stderr
    rerun = json.loads(proc.stdout)
    assert (rerun["unchanged"], rerun["added"], rerun["updated"], rerun["removed"]) == (5, 0, 0, 0), "the ledger must persist"
    assert rerun["embedded"] == 0

    # the server dies: a clear one-line error naming the URL and how to start a server, exit code 1
    chroma_server.stop(signal.SIGKILL)
    with pytest.raises(StoreError) as lost:
        engine.ask(QUESTION)
    assert f"in the Chroma store at {url}: " in str(lost.value)
    assert f"Is the Chroma server running at {url}? Start it with `chroma run --path DIR --port PORT`" in str(lost.value)
    proc = run_clausewise("ask", QUESTION, "--chroma-url", url, "--data-dir", app_data, "--json", env=cli_env())
    assert_server_down_error(proc, url)


@pytest.mark.parametrize("command", [["status"], ["ingest", str(CORPUS_DIR)], ["ask", QUESTION]])
def test_no_server_at_the_url_gives_a_clear_error(
    command: list[str], tmp_path: Path, run_clausewise: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    url = unused_local_url()
    started = time.monotonic()
    proc = run_clausewise(*command, "--chroma-url", url, "--data-dir", tmp_path / "data", env=cli_env())
    assert_server_down_error(proc, url)
    assert time.monotonic() - started < 60, "a refused connection must fail fast, not hang"
