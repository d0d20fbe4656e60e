"""Faults a user can run into: Ollama dying mid-answer, a corrupted store, a process killed mid-upload.

Real components only: the stand-in Ollama server speaks the real HTTP protocol (no Ollama binary can run
here), Chroma is the real embedded store, and kills are real SIGKILLs of real subprocesses.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from clausewise.settings import Settings
from rag.api import Engine
from rag.backends.ollama import clear_reachable_cache
from tests.conftest import CORPUS_DIR, IngestedStore, copy_vector_cache, make_settings
from tests.support.fake_ollama import FakeOllama, unused_local_url

pytestmark = pytest.mark.slow  # real servers / subprocesses: tens of seconds

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "How long does Kipsu retain data?"
PARTIAL_REPLY = "Kipsu keeps personal information for as long as needed to provide service to its clients [1]. It also"


@pytest.fixture(autouse=True)
def fresh_reachability() -> None:
    clear_reachable_cache()


# ---- Ollama goes away in the middle of an answer -----------------------------------------------------------
@pytest.fixture
def dropping_ollama() -> Iterator[FakeOllama]:
    with FakeOllama(PARTIAL_REPLY + " retains records to comply with legal obligations [1].", pieces=6) as fake:
        fake.drop_mid_stream(after_pieces=2)
        yield fake


def engine_for(ingested_store: IngestedStore, **overrides: object) -> Engine:
    settings = ingested_store.settings.model_copy(update={"backend": "auto", "gguf": None, **overrides})
    return Engine(settings, store=ingested_store.store)


def test_ollama_dropping_the_connection_mid_answer_gives_the_extractive_answer(
    dropping_ollama: FakeOllama, ingested_store: IngestedStore
) -> None:
    engine = engine_for(ingested_store, ollama_host=dropping_ollama.url, ollama_timeout=10.0)

    events = list(engine.ask_stream(QUESTION))

    assert len(dropping_ollama.chat_requests()) == 1, "the model must really have been asked"
    streamed = "".join(e.text for e in events if e.kind == "token")
    assert streamed.startswith("Kipsu keeps personal information"), "the user saw the draft start streaming"
    answer = events[-1].answer
    assert events[-1].kind == "answer" and answer is not None
    assert answer.backend == "extractive"
    notice = " ".join(answer.notices)
    assert f"The connection to Ollama at {dropping_ollama.url} dropped before the answer was complete" in notice
    assert "Showing the extractive answer instead" in notice
    assert not answer.refused
    assert answer.text.startswith("Kipsu's policy says:"), answer.text
    assert "Kipsu keeps personal information" not in answer.text, "the broken draft must not be the answer"
    assert answer.citations and {c.vendor for c in answer.citations} == {"Kipsu"}
    assert any("retain" in c.quote for c in answer.citations)


def test_ollama_gone_before_the_question_falls_back_with_the_reason(ingested_store: IngestedStore) -> None:
    gone = unused_local_url()
    engine = engine_for(ingested_store, ollama_host=gone)

    answer = engine.ask(QUESTION)

    assert answer.backend == "extractive"
    assert f"no Ollama server at {gone}" in answer.backend_reason
    assert answer.citations and {c.vendor for c in answer.citations} == {"Kipsu"}


# ---- a corrupted store -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pristine_store(ingested_store: IngestedStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the ingested corpus, written by the CLI (copy it before changing it)."""
    data_dir = tmp_path_factory.mktemp("pristine") / "data"
    copy_vector_cache(ingested_store.settings, data_dir)
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("clausewise")), "ingest", str(CORPUS_DIR), "--data-dir", str(data_dir), "--json"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return data_dir


def corrupt(sqlite_file: Path, how: str) -> None:
    """Write deterministic garbage into the Chroma sqlite file."""
    garbage = random.Random(1234)
    size = sqlite_file.stat().st_size
    with sqlite_file.open("r+b") as f:
        if how == "header":  # the first page, with the "SQLite format 3" magic
            f.write(garbage.randbytes(4096))
        elif how == "everything-after-the-header":
            f.seek(100)
            f.write(garbage.randbytes(size - 100))
        elif how == "64KB-in-the-middle":
            f.seek(size // 2)
            f.write(garbage.randbytes(65536))
        else:
            raise AssertionError(how)


@pytest.mark.parametrize("how", ["header", "everything-after-the-header", "64KB-in-the-middle"])
def test_corrupted_store_says_rebuild_and_rebuild_recovers(
    how: str, pristine_store: Path, tmp_path: Path, run_clausewise: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(pristine_store, data_dir)
    corrupt(data_dir / "chroma" / "chroma.sqlite3", how)

    for command in (["status"], ["ask", QUESTION, "--backend", "extractive"], ["ingest", str(CORPUS_DIR)]):
        proc = run_clausewise(*command, "--data-dir", data_dir)
        assert proc.returncode == 1, (command, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        message = proc.stderr.strip()
        assert message.startswith("clausewise: error: cannot "), message
        assert str(data_dir / "chroma") in message
        assert "run `clausewise ingest --rebuild`" in message, message

    proc = run_clausewise("ingest", CORPUS_DIR, "--rebuild", "--json", "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["documents"], report["added"], report["errors"]) == (5, 5, [])
    assert report["embedded"] == 0, "the vector cache survives a rebuild: nothing is re-embedded"

    proc = run_clausewise("status", "--json", "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["vendors"]
    assert len(rows) == 5 and sum(r["chunks"] for r in rows) == report["chunks"]
    proc = run_clausewise("ask", QUESTION, "--backend", "extractive", "--json", "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["citations"] and {c["vendor"] for c in answer["citations"]} == {"Kipsu"}


# ---- kill -9 during an upload-like single-file ingest --------------------------------------------------------
UPLOAD_V1 = textwrap.dedent("""\
    Acme Widgets Privacy Policy
    Effective date: January 5, 2024

    1. Information we collect
    We collect your name, email address and shipping address when you order a widget from Acme Widgets.
    We also collect the widget serial numbers you register with us, so that warranty claims can be handled.

    2. How we use information
    We use your information to ship orders, to answer support requests and to send warranty reminders.
    We do not use your information to build advertising profiles of any kind.

    3. Retention
    Acme Widgets keeps order records for six years because tax law requires it, then deletes them.
    Support conversations are deleted two years after the ticket is closed.

    4. Sharing
    We share shipping addresses with the parcel carrier that delivers your order and with no one else.
    We never sell personal information to data brokers or advertisers.

    5. Your rights
    You can ask for a copy of your data, ask us to correct it, or ask us to delete it by writing to privacy@acme.example.
    We answer every request within thirty days.
    """)
UPLOAD_V2 = UPLOAD_V1.replace("six years", "seven years").replace(
    "5. Your rights", "5. Cookies\nOur shop uses one session cookie to keep your basket between pages.\n\n6. Your rights"
)

_CHILD = """
import sys, time
from pathlib import Path
from clausewise.settings import Settings
from clausewise.store import Store
from ingest.pipeline import Ingestor

data_dir, path, vendor, pause_after = sys.argv[1:5]
if pause_after != "-":
    original = getattr(Store, pause_after)

    def paused(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        print("PAUSED", flush=True)  # the parent SIGKILLs us now
        time.sleep(600)
        return result

    setattr(Store, pause_after, paused)
report = Ingestor(Settings(data_dir=data_dir, chroma_url=None)).ingest_file(Path(path), vendor=vendor)
print("REPORT " + __import__("json").dumps(report.to_dict()), flush=True)
"""


def ingest_in_child(data_dir: Path, path: Path, vendor: str, pause_after: str = "-", timeout: float = 300) -> dict | None:
    """Run Ingestor.ingest_file in a fresh process; with pause_after, SIGKILL it right after that Store method ran."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(data_dir), str(path), vendor, pause_after],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("PAUSED"):
                os.kill(proc.pid, signal.SIGKILL)
                assert proc.wait(timeout=30) == -signal.SIGKILL
                return None
            if line.startswith("REPORT "):
                proc.wait(timeout=60)
                return json.loads(line[len("REPORT "):])
            if time.monotonic() > deadline:
                break
        proc.wait(timeout=30)
        pytest.fail(f"the ingest child ended without a report (exit {proc.returncode}):\n{proc.stderr.read()[-3000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def assert_consistent(snapshot: dict) -> None:
    """No duplicate chunks, no chunk without a ledger entry, chunk counts as the ledger says, nothing pending."""
    assert len(snapshot["ids"]) == len(set(snapshot["ids"])) == snapshot["count"]
    keys = [tuple(k) for k in snapshot["keys"]]
    duplicates = [k for k, n in Counter(keys).items() if n > 1]
    assert not duplicates, f"the same text span is stored twice: {duplicates[:3]}"
    per_doc = Counter(k[0] for k in keys)
    ledger = snapshot["ledger"]
    assert {doc: e["status"] for doc, e in ledger.items() if e["status"] != "done"} == {}, "pending ledger entries left"
    assert set(per_doc) == set(ledger), "chunks without a ledger entry (or the reverse)"
    assert {doc: e["chunks"] for doc, e in ledger.items()} == dict(per_doc)


@pytest.mark.parametrize(
    ("scenario", "kill_after"),
    [
        ("new upload", "mark"),  # the ledger says "pending", no chunk written yet
        ("new upload", "add_chunks"),  # all chunks written, the ledger not yet "done"
        ("replacing an earlier version", "add_chunks"),  # old chunks deleted, new ones written, not "done"
    ],
)
def test_kill_9_during_an_upload_then_restart_leaves_no_duplicates_or_pending_entries(
    scenario: str, kill_after: str, pristine_store: Path, tmp_path: Path,
    store_snapshot: Callable[[Path], dict], run_clausewise: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    data_dir = tmp_path / "data"
    shutil.copytree(pristine_store, data_dir)
    upload = data_dir / "uploads" / "acme-widgets--privacy-policy.txt"
    upload.parent.mkdir()
    corpus_before = store_snapshot(data_dir)
    if scenario == "replacing an earlier version":
        upload.write_text(UPLOAD_V1, encoding="utf-8")
        report = ingest_in_child(data_dir, upload, "Acme Widgets")
        assert report is not None and report["added"] == 1 and not report["errors"]
        v1 = store_snapshot(data_dir)
        v1_ids = {i for i in v1["ids"] if v1["vendors"][i] == "Acme Widgets"}
    upload.write_text(UPLOAD_V2, encoding="utf-8")

    assert ingest_in_child(data_dir, upload, "Acme Widgets", pause_after=kill_after) is None  # killed with SIGKILL

    # what a restarted app finds: the corpus intact, the upload marked half-written, and `status` says so
    after_kill = store_snapshot(data_dir)
    assert after_kill["ledger"]["acme-widgets-privacy-policy"]["status"] == "pending"
    for doc, entry in corpus_before["ledger"].items():
        assert after_kill["ledger"][doc] == entry
    proc = run_clausewise("status", "--json", "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    acme = next(r for r in json.loads(proc.stdout)["vendors"] if r["vendor"] == "Acme Widgets")
    assert acme["warnings"] == ["acme-widgets-privacy-policy is half-written: re-run `clausewise ingest`"]

    # the next ingest (the user uploads the file again) converges: no duplicates, nothing pending
    report = ingest_in_child(data_dir, upload, "Acme Widgets")
    assert report is not None and not report["errors"] and report["documents"] == 1
    final = store_snapshot(data_dir)
    assert_consistent(final)
    acme_ids = {i for i in final["ids"] if final["vendors"][i] == "Acme Widgets"}
    assert final["ledger"]["acme-widgets-privacy-policy"] == {"status": "done", "chunks": len(acme_ids), "vendor": "Acme Widgets"}
    for doc, entry in corpus_before["ledger"].items():
        assert final["ledger"][doc] == entry, f"{doc} changed"
    assert final["count"] == corpus_before["count"] + len(acme_ids)
    if scenario == "replacing an earlier version":
        assert acme_ids != v1_ids, "the new version's chunks must replace the old ones"

    # and a user asking about it gets the new version's answer, once
    settings: Settings = make_settings(data_dir)
    answer = Engine(settings).ask("How long does Acme Widgets keep order records?", backend="extractive")
    assert {c.vendor for c in answer.citations} == {"Acme Widgets"}
    assert "seven years" in answer.text and "six years" not in answer.text
    assert answer.text.count("keeps order records") == 1
