"""A small load test of the served app: 5 concurrent Gradio API clients for ~10 s (scripts/load_test.py).

The app is the real `clausewise serve` process on loopback with the extractive backend; the clients are real
`gradio_client.Client`s calling the `/ask` endpoint, exactly as scripts/load_test.py does at full size.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import pytest

from tests.conftest import CORPUS_DIR, IngestedStore, copy_vector_cache

pytestmark = pytest.mark.slow  # real servers / subprocesses: tens of seconds

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "load_test.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("clausewise_load_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is created
    spec.loader.exec_module(module)
    return module


load_test = _load_script()


class App(NamedTuple):
    url: str
    proc: subprocess.Popen
    data_dir: Path
    log: Path


@pytest.fixture(scope="module")
def app(ingested_store: IngestedStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    """`clausewise serve` over the ingested corpus, on a free loopback port, extractive backend."""
    data_dir = tmp_path_factory.mktemp("load") / "data"
    copy_vector_cache(ingested_store.settings, data_dir)
    load_test.ensure_ingested(data_dir, CORPUS_DIR, log=lambda _message: None)
    port = load_test.free_port()
    log = data_dir.parent / "serve.log"
    proc = load_test.start_server(data_dir, port, log)
    url = f"http://127.0.0.1:{port}/"
    try:
        try:
            load_test.wait_until_up(url, proc, timeout=300)
        except load_test.SetupError as exc:
            pytest.fail(f"{exc}\n{log.read_text()[-3000:]}")
        yield App(url, proc, data_dir, log)
    finally:
        load_test.stop_server(proc)


def ask(url: str, question: str) -> tuple[str, str]:
    return load_test.ask_once(load_test.make_client(url), question)


def test_five_clients_for_ten_seconds_get_correct_cited_answers(app: App, tmp_path: Path) -> None:
    report = load_test.run_load(app.url, clients=5, duration=10.0, server_pid=app.proc.pid, log=lambda _message: None)
    path = load_test.write_report(report, tmp_path / "results")

    assert report["errors"] == 0, report["error_samples"]
    assert report["requests"] == report["ok"] >= 5
    assert all(n >= 1 for n in report["per_client_requests"].values()), "every client must have been answered"
    assert report["latency_s"]["p95"] is not None and report["latency_s"]["p95"] < 30, report["latency_s"]
    assert report["throughput_rps"] > 0
    rss = report["server_rss_mb"]
    assert rss["before_load"] and rss["peak_during_load"] and rss["after_load"], rss
    assert report["after_load_check"]["ok"], report["after_load_check"]
    assert json.loads(path.read_text(encoding="utf-8")) == report
    assert json.loads((path.parent / "latest.json").read_text(encoding="utf-8")) == report

    # and the app still answers a user afterwards, with the right vendor's clauses
    assert app.proc.poll() is None, "the app must survive the load"
    chat_html, sources_html = ask(app.url, "How long does Kipsu retain data?")
    assert "cw-error" not in chat_html
    assert "Kipsu&#x27;s policy says:" in chat_html or "Kipsu's policy says:" in chat_html
    assert set(load_test.cited_docs(sources_html)) == {"kipsu"}


def test_answer_check_rejects_wrong_vendor_errors_and_uncited_answers() -> None:
    good = '<a class="cw-cite" href="/?doc=kipsu" data-doc="kipsu" data-clause="kipsu/x">[1]</a>'
    wrong = '<a class="cw-cite" href="/?doc=kim-cc" data-doc="kim-cc" data-clause="kim-cc/x">[1]</a>'
    related_only = '<h4>Closest clauses</h4><ol class="cw-source-list cw-related">' + good + "</ol>"

    assert load_test.check_answer("<div>ok</div>", good, "kipsu") == (True, ["kipsu"], "")
    assert load_test.check_answer("<div>ok</div>", good + wrong, "kipsu")[0] is False
    assert load_test.check_answer("<div>ok</div>", related_only, "kipsu") == (False, [], "the answer cites no clause")
    ok, _, why = load_test.check_answer('<div class="cw-a cw-error">Could not answer: boom</div>', good, "kipsu")
    assert not ok and why.startswith("the app showed an error: Could not answer: boom")


def test_script_runs_from_the_command_line_against_a_running_app(app: App, tmp_path: Path) -> None:
    out = tmp_path / "load-results"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--url", app.url, "--server-pid", str(app.proc.pid), "--clients", "2",
         "--duration", "3", "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("2 clients x 3s: ") and ", 0 errors; p50 " in proc.stdout, proc.stdout
    report = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    assert (report["clients"], report["duration_s"], report["errors"]) == (2, 3.0, 0)
    assert report["after_load_check"]["ok"] and report["server_rss_mb"]["peak_during_load"] > 0
