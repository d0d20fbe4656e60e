#!/usr/bin/env python
"""Load test of the clausewise web app: N concurrent clients asking through the Gradio API for D seconds.

Starts `clausewise serve` on loopback with the extractive backend (or connects to a running app with --url),
then runs `--clients` threads, each with its own `gradio_client.Client`, asking questions about known vendors
through the `/ask` endpoint until `--duration` seconds have passed. Every answer is checked the way a user
would: it must arrive without an error, and its sources must cite the vendor the question names (and only that
vendor). Reports errors, p50/p95 latency, throughput and the server's resident memory (RSS), checks that the app
still answers one request afterwards, and writes everything as JSON to results/load/.

    .venv/bin/python scripts/load_test.py                         # 20 clients x 60 s, own server, bundled corpus
    .venv/bin/python scripts/load_test.py --clients 5 --duration 10
    .venv/bin/python scripts/load_test.py --url http://127.0.0.1:7860/ --server-pid 12345

Exit status: 0 when every request succeeded and the app answered afterwards, 1 otherwise, 2 on setup failure.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "results" / "load"

# (question, doc id the sources must cite); every one of them gets a cited answer from the bundled corpus.
QUESTIONS: list[tuple[str, str]] = [
    ("How long does Kipsu retain data?", "kipsu"),
    ("Does kim.cc sell personal information?", "kim-cc"),
    ("Which cookies does Kaizenify use?", "kaizenify"),
    ("How can I delete my data at Kalodata?", "kalodata"),
    ("Does Dr. Kim's Veterinary Clinic share personal information with third parties?", "dr-kims-veterinary-clinic"),
    ("What rights do Kalodata users have?", "kalodata"),
    ("How does Kipsu protect personal information?", "kipsu"),
    ("Does Kaizenify share data with third parties?", "kaizenify"),
    ("How can I contact kim.cc about privacy?", "kim-cc"),
]
API_NAME = "/ask"  # ui/app.py: ask_btn.click(..., api_name="ask") -> (chat html, sources html, question box)


class SetupError(Exception):
    """The app could not be started or reached."""


@dataclass
class Result:
    client: int
    question: str
    expected_doc: str
    started: float  # seconds since the load phase began
    latency_s: float
    ok: bool
    cited_docs: list[str] = field(default_factory=list)
    error: str = ""


# ---- answer checks ------------------------------------------------------------------------------------
def cited_docs(sources_html: str) -> list[str]:
    """Doc ids of the citations shown in the Sources panel (only the cited list, not 'closest clauses')."""
    cited = sources_html.split("cw-related", 1)[0]
    return [html.unescape(d) for d in re.findall(r'<a class="cw-cite"[^>]*\bdata-doc="([^"]*)"', cited)]


def check_answer(chat_html: str, sources_html: str, expected_doc: str) -> tuple[bool, list[str], str]:
    """(ok, cited doc ids, why not ok) for one /ask response, judged as a user reading the page would."""
    if "cw-error" in chat_html:
        message = re.search(r'cw-error[^>]*>(.*?)</div>', chat_html, re.S)
        return False, [], "the app showed an error: " + html.unescape(re.sub(r"<[^>]+>", " ", message.group(1) if message else "")).strip()[:200]
    docs = cited_docs(sources_html)
    if not docs:
        return False, docs, "the answer cites no clause"
    wrong = sorted(set(docs) - {expected_doc})
    if wrong:
        return False, docs, f"the answer cites {', '.join(wrong)} instead of only {expected_doc}"
    return True, docs, ""


# ---- the server -----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clausewise_command() -> list[str]:
    script = Path(sys.executable).with_name("clausewise")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "clausewise.cli"]


def server_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "CLAUSEWISE_BACKEND": "extractive",
        "CLAUSEWISE_DATA_DIR": str(data_dir),
        "GRADIO_ANALYTICS_ENABLED": "False",
    })
    env.pop("CLAUSEWISE_CHROMA_URL", None)
    return env


def ensure_ingested(data_dir: Path, corpus: Path, log) -> None:
    """Ingest the corpus into data_dir (a no-op when it is already there)."""
    log(f"ingesting {corpus} into {data_dir} …")
    proc = subprocess.run([*clausewise_command(), "ingest", str(corpus), "--data-dir", str(data_dir), "--json"],
                          env=server_env(data_dir), capture_output=True, text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise SetupError(f"ingest failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    report = json.loads(proc.stdout)
    log(f"  {report['documents']} documents, {report['chunks']} chunks, {len(report['errors'])} errors, {report['seconds']:.1f}s")


def wait_until_up(url: str, proc: subprocess.Popen | None, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc is not None and proc.poll() is not None:
            raise SetupError(f"the app exited with code {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise SetupError(f"the app at {url} did not answer within {timeout:g} s")


def start_server(data_dir: Path, port: int, log_path: Path) -> subprocess.Popen:
    log_file = log_path.open("w")
    return subprocess.Popen(
        [*clausewise_command(), "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)],
        env=server_env(data_dir), stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
    )


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def rss_mb(pid: int) -> float | None:
    """Resident memory of `pid` plus its children, in MB (Linux /proc)."""
    total_kb, found = 0, False
    pids = [pid]
    with contextlib.suppress(OSError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    found = True
        except OSError:
            continue
    return round(total_kb / 1024, 1) if found else None


class RssSampler(threading.Thread):
    def __init__(self, pid: int | None, every_s: float = 0.5) -> None:
        super().__init__(daemon=True, name="rss-sampler")
        self.pid, self.every_s = pid, every_s
        self.samples: list[float] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while self.pid and not self._stop_event.is_set():
            value = rss_mb(self.pid)
            if value is not None:
                self.samples.append(value)
            self._stop_event.wait(self.every_s)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


# ---- the load -------------------------------------------------------------------------------------------
def ask_once(client, question: str) -> tuple[str, str]:
    chat_html, sources_html, _question_box = client.predict(question, "All vendors", api_name=API_NAME)
    return str(chat_html), str(sources_html)


def make_client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=False)


def worker(index: int, url: str, t0: float, deadline: float, results: list[Result], lock: threading.Lock) -> None:
    try:
        client = make_client(url)
    except Exception as exc:  # noqa: BLE001 - a client that cannot even connect is an error to report
        with lock:
            results.append(Result(index, "", "", time.monotonic() - t0, 0.0, False, error=f"client could not connect: {exc.__class__.__name__}: {exc}"))
        return
    n = index
    while time.monotonic() < deadline:
        question, expected = QUESTIONS[n % len(QUESTIONS)]
        n += 1
        started = time.monotonic()
        try:
            chat_html, sources_html = ask_once(client, question)
            ok, docs, why = check_answer(chat_html, sources_html, expected)
        except Exception as exc:  # noqa: BLE001
            ok, docs, why = False, [], f"{exc.__class__.__name__}: {exc}"[:300]
        ended = time.monotonic()
        with lock:
            results.append(Result(index, question, expected, round(started - t0, 3), round(ended - started, 3), ok, docs, why))


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[rank], 3)


def run_load(url: str, clients: int, duration: float, server_pid: int | None, log=print, settle_s: float = 15.0) -> dict:
    """Warm up, run the load, check the app afterwards; returns the report (without writing it)."""
    warm_client = make_client(url)
    started = time.monotonic()
    ok, docs, why = check_answer(*ask_once(warm_client, QUESTIONS[0][0]), QUESTIONS[0][1])
    warmup_s = round(time.monotonic() - started, 3)
    if not ok:
        raise SetupError(f"the warm-up question failed: {why}")
    log(f"warm-up answer in {warmup_s:.2f}s; starting {clients} clients for {duration:g}s …")

    rss_before = rss_mb(server_pid) if server_pid else None
    load_before = os.getloadavg()
    sampler = RssSampler(server_pid)
    sampler.start()
    results: list[Result] = []
    lock = threading.Lock()
    t0 = time.monotonic()
    deadline = t0 + duration
    threads = [threading.Thread(target=worker, args=(i, url, t0, deadline, results, lock), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 600)
    wall_s = time.monotonic() - t0
    sampler.stop()
    rss_after_load = rss_mb(server_pid) if server_pid else None

    started = time.monotonic()
    try:
        after_ok, after_docs, after_why = check_answer(*ask_once(warm_client, QUESTIONS[1][0]), QUESTIONS[1][1])
    except Exception as exc:  # noqa: BLE001
        after_ok, after_docs, after_why = False, [], f"{exc.__class__.__name__}: {exc}"
    after_s = round(time.monotonic() - started, 3)
    # memory once the app is idle again: past the server's periodic malloc trim (CLAUSEWISE_MALLOC_TRIM_S, 10 s)
    time.sleep(max(0.0, settle_s - (time.monotonic() - started)))
    rss_settled = rss_mb(server_pid) if server_pid else None

    latencies = [r.latency_s for r in results if r.ok]
    # each client's first request lands in the cold start burst (all clients at once, fresh worker threads)
    first = {id(min(mine, key=lambda r: r.started)) for i in range(clients) if (mine := [r for r in results if r.client == i])}
    steady = [r.latency_s for r in results if r.ok and id(r) not in first]
    errors = [r for r in results if not r.ok]
    in_window = [r for r in results if r.ok and r.started + r.latency_s <= duration]
    report = {
        "kind": "clausewise-load-test",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "url": url,
        "api_name": API_NAME,
        "backend": "extractive",
        "clients": clients,
        "duration_s": duration,
        "wall_s": round(wall_s, 3),
        "warmup_latency_s": warmup_s,
        "requests": len(results),
        "ok": len(latencies),
        "errors": len(errors),
        "error_rate": round(len(errors) / len(results), 4) if results else None,
        "error_samples": [{"client": r.client, "question": r.question, "error": r.error} for r in errors[:10]],
        "throughput_rps": round(len(latencies) / wall_s, 3) if wall_s else None,
        "throughput_in_window_rps": round(len(in_window) / duration, 3) if duration else None,
        "latency_s": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "p99": percentile(latencies, 99),
            "max": round(max(latencies), 3) if latencies else None,
            "mean": round(statistics.fmean(latencies), 3) if latencies else None,
            "min": round(min(latencies), 3) if latencies else None,
        },
        "latency_s_without_first_burst": {
            "requests": len(steady),
            "p50": percentile(steady, 50),
            "p95": percentile(steady, 95),
            "max": round(max(steady), 3) if steady else None,
        },
        "per_client_requests": {str(i): sum(1 for r in results if r.client == i) for i in range(clients)},
        "server_pid": server_pid,
        "server_rss_mb": {
            "before_load": rss_before,
            "peak_during_load": max(sampler.samples) if sampler.samples else None,
            "after_load": rss_after_load,
            "settled": rss_settled,
            "settle_s": settle_s,
            # the memory target: RSS after the load within MAX_RSS_GROWTH of RSS after the warm-up question
            "growth_after_load": round(rss_after_load / rss_before - 1, 3) if rss_before and rss_after_load else None,
            "growth_settled": round(rss_settled / rss_before - 1, 3) if rss_before and rss_settled else None,
        },
        "after_load_check": {"ok": after_ok, "latency_s": after_s, "cited_docs": sorted(set(after_docs)), "error": after_why},
        "samples": [[r.client, r.started, r.latency_s, r.ok] for r in results],  # client, start s, latency s, ok
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            # 1-minute load average: other work on the machine competes with the app (and the clients run here too)
            "loadavg_1m_before": round(load_before[0], 2),
            "loadavg_1m_after": round(os.getloadavg()[0], 2),
        },
    }
    return report


def write_report(report: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = report["timestamp"].replace(":", "").replace("-", "")
    path = out_dir / f"load-{report['clients']}x{report['duration_s']:g}s-{stamp}.json"
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out_dir / "latest.json").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:+.0%}"


def summary(report: dict) -> str:
    lat, rss = report["latency_s"], report["server_rss_mb"]
    return (
        f"{report['clients']} clients x {report['duration_s']:g}s: {report['requests']} requests, {report['errors']} errors; "
        f"p50 {lat['p50']}s, p95 {lat['p95']}s, max {lat['max']}s; {report['throughput_rps']} answers/s; "
        f"server RSS {rss['before_load']} -> peak {rss['peak_during_load']} -> {rss['after_load']} MB "
        f"({_pct(rss.get('growth_after_load'))}; {_pct(rss.get('growth_settled'))} after {rss.get('settle_s')} s idle); "
        f"answer afterwards: {'ok' if report['after_load_check']['ok'] else 'FAILED: ' + report['after_load_check']['error']} "
        f"({report['after_load_check']['latency_s']}s)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default 20)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--url", help="an app that is already running (default: start `clausewise serve` here)")
    parser.add_argument("--server-pid", type=int, help="with --url: the app's process id, to report its RSS")
    parser.add_argument("--data-dir", type=Path, help="store for the started app (default: a temp dir; the corpus is ingested into it)")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus", help="corpus ingested into --data-dir first")
    parser.add_argument("--port", type=int, help="port of the started app (default: a free one)")
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for the JSON report (default results/load)")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds after the load before the last RSS sample (default 15)")
    parser.add_argument("--max-rss-growth", type=float, help="fail (exit 1) when RSS after the load exceeds the post-warm-up RSS "
                        "by more than this fraction (e.g. 0.2)")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    proc, temp_dir = None, None
    try:
        if args.url:
            url, server_pid = args.url.rstrip("/") + "/", args.server_pid
            wait_until_up(url, None, args.startup_timeout)
        else:
            data_dir = args.data_dir
            if data_dir is None:
                temp_dir = Path(tempfile.mkdtemp(prefix="clausewise-load-"))
                data_dir = temp_dir / "data"
            ensure_ingested(data_dir, args.corpus, log)
            port = args.port or free_port()
            url = f"http://127.0.0.1:{port}/"
            log_path = (temp_dir or data_dir) / "serve.log"
            proc = start_server(data_dir, port, log_path)
            server_pid = proc.pid
            log(f"started `clausewise serve` (pid {proc.pid}) on {url}; log: {log_path}")
            log(f"  up after {wait_until_up(url, proc, args.startup_timeout):.1f}s")
        report = run_load(url, args.clients, args.duration, server_pid, log, args.settle)
        report["server_started_by_script"] = proc is not None
        if proc is not None and proc.poll() is not None:
            report["after_load_check"]["ok"] = False
            report["after_load_check"]["error"] = f"the app exited with code {proc.returncode}"
        path = write_report(report, args.out)
        print(summary(report))
        log(f"report: {path}")
        growth = report["server_rss_mb"]["growth_after_load"]
        flat = args.max_rss_growth is None or (growth is not None and growth <= args.max_rss_growth)
        if not flat:
            log(f"server RSS grew {growth:+.0%} over the load, more than --max-rss-growth {args.max_rss_growth:.0%}")
        return 0 if report["errors"] == 0 and report["after_load_check"]["ok"] and flat else 1
    except SetupError as exc:
        log(f"load test setup failed: {exc}")
        return 2
    finally:
        if proc is not None:
            stop_server(proc)
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
