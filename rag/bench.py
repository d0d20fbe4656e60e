"""`clausewise bench`: ingest throughput, memory, store size and latency as the store grows.

Scales:
* bundled — the bundled corpus/ ingested into a fresh store (real embedding unless --vector-cache seeds it);
* opp115  — the 115 OPP-115 policies, one vendor each, ingested into a fresh store (slow on a laptop CPU);
* N (10k, 100k, 500, …) — a synthetic store of N chunks: the bundled corpus's real clauses recombined into
  fake vendors ("synth00001", …) that REUSE the stored embeddings (nothing is re-embedded), written straight
  into a Chroma collection in a separate data dir, with the same chunks indexed for the llama-index baseline.

At every scale: retrieve p50/p95 (ours: hybrid, vendor-filtered and over all vendors; baseline: llama-index
dense retriever, file-name filtered and unfiltered), extractive answer p50/p95 and end-to-end ask latency, the
load average around each measurement, and, for synthetic scales, the same store served by `chroma run`.
Everything is written under the results dir (default results/bench/), never into the user's store.
"""

from __future__ import annotations

import os
import platform
import random
import re
import resource
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import clausewise.offline  # noqa: F401  (before any ML import)
from rag.bench_report import write_outputs
from rag.bench_stores import build_synthetic, dir_mb, ingest_scale, settings_for
from rag.metrics import percentile

GENERIC_QUESTIONS = [
    "What personal information do you collect?",
    "Do you sell my personal data?",
    "Who do you share my information with?",
    "How long do you keep my data?",
    "How can I delete my account and data?",
    "Do you use cookies and how can I turn them off?",
    "Is my data transferred to other countries?",
    "How do you protect my personal information?",
    "Do you collect information from children?",
    "How will I know if the privacy policy changes?",
    "Do you respond to Do Not Track signals?",
    "How can I opt out of marketing emails?",
    "Do you use my data for advertising?",
    "What rights do California residents have?",
    "How can I contact you about privacy?",
    "Do you collect my location?",
    "Do you share data with law enforcement?",
    "Can I access or correct my personal information?",
    "What happens to my data if the company is sold?",
    "Do you use analytics services like Google Analytics?",
]


@dataclass
class BenchOptions:
    scales: str = "bundled,10k"
    synthetic_sizes: str | None = None
    results: Path | None = None
    corpus: Path | None = None
    opp115: Path | None = None
    queries: int = 40
    embed_sample: int = 256
    vector_cache: Path | None = None
    progress: bool = True
    seed: int = 0
    k: int = 5
    chroma_server: bool = True  # also measure each synthetic store served by `chroma run` (CLAUSEWISE_CHROMA_URL)


def parse_size(token: str) -> int:
    """'10k' -> 10000, '1m' -> 1000000, '500' -> 500."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([km]?)", token.strip().lower())
    if not match:
        raise ValueError(f"not a scale: '{token}' (use bundled, opp115 or a size like 10k)")
    return int(float(match.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2)])


def parse_scales(scales: str, synthetic_sizes: str | None = None) -> tuple[list[str], list[int]]:
    """Named scales (bundled, opp115) and synthetic sizes; --synthetic-sizes replaces the sizes in --scales."""
    named, sizes = [], []
    for token in (t.strip() for t in scales.split(",")):
        if token in ("bundled", "opp115"):
            named.append(token)
        elif token:
            sizes.append(parse_size(token))
    if synthetic_sizes is not None:
        sizes = [parse_size(t) for t in synthetic_sizes.split(",") if t.strip()]
    return list(dict.fromkeys(named)), sorted(set(sizes))


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (getrusage; kilobytes on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if platform.system() == "Darwin" else 1024), 1)


def rss_mb() -> float | None:
    """Current resident memory of this process (Linux /proc), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []


def _stats(values_ms: Sequence[float]) -> dict:
    return {"p50": _r(percentile(values_ms, 50)), "p95": _r(percentile(values_ms, 95)), "n": len(values_ms)}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _timed(fn: Callable, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, result


# ---- latency -------------------------------------------------------------------------------------------


def measure_latency(settings, baseline, vendors: Sequence[str], files_of: dict[str, list[str]], n: int, k: int, progress: bool, label: str) -> dict:
    """Retrieval (ours vs baseline, vendor-filtered and all vendors) and extractive ask latency over n questions.

    The baseline is measured first and on its own, so a failure of ours at some scale still leaves its numbers
    (recorded as `ours_error`)."""
    from tqdm import tqdm

    from rag.api import Engine

    asked = [(GENERIC_QUESTIONS[i % len(GENERIC_QUESTIONS)], vendors[i % len(vendors)]) for i in range(n)]
    out: dict = {"loadavg_start": loadavg()}
    if baseline is not None:  # on the same torch threads as our query embedding, so both get the same CPU
        from clausewise.embedding import torch_threads

        with torch_threads(settings.query_threads or None):
            baseline.search("warm up", None, 1)
            base_v = [_timed(baseline.search, q, files_of[v], k)[0] for q, v in asked]
            base_all = [_timed(baseline.search, q, None, k)[0] for q, _ in asked]
        out |= {"baseline_retrieve_vendor_ms": _stats(base_v), "baseline_retrieve_all_ms": _stats(base_all)}
    try:
        engine = Engine(settings)
        cold_ms, _ = _timed(engine.retriever.search, "warm up", None, 1)  # loads the chunk table and builds BM25
        engine.ask(GENERIC_QUESTIONS[0], vendor=vendors[0], backend="extractive")  # warms the sentence scorer
        ours_v, ours_all, extractive, e2e, retrieve_stage = [], [], [], [], []
        embedder = engine.retriever.embedder
        forget = getattr(embedder, "clear", lambda: None)  # each measurement embeds its question afresh
        for question, vendor in tqdm(asked, desc=f"latency {label}", unit="q", disable=not progress):
            forget()
            ours_v.append(_timed(engine.retriever.search, question, [vendor], k)[0])
            forget()
            ours_all.append(_timed(engine.retriever.search, question, None, k)[0])
            forget()
            answer = engine.ask(question, vendor=vendor, backend="extractive")
            extractive.append(answer.timings.get("generate", 0.0) * 1000)
            retrieve_stage.append(answer.timings.get("retrieve", 0.0) * 1000)
            e2e.append(answer.timings.get("total", 0.0) * 1000)
    except Exception as exc:  # a scale ours cannot serve is a result too: record it, keep the other scales
        out["ours_error"] = f"{exc.__class__.__name__}: {exc}"
        return out
    out |= {
        "cold_first_query_ms": round(cold_ms, 1),
        "ours_retrieve_vendor_ms": _stats(ours_v),
        "ours_retrieve_all_ms": _stats(ours_all),
        "ask_retrieve_stage_ms": _stats(retrieve_stage),
        "extractive_answer_ms": _stats(extractive),
        "end_to_end_ms": _stats(e2e),
        "query_vectors": {"memory_hits": getattr(embedder, "hits", None), "disk_hits": getattr(embedder, "disk_hits", None),
                          "embedded": getattr(embedder, "misses", None)},
        "loadavg_end": loadavg(),
    }
    if out.get("baseline_retrieve_vendor_ms", {}).get("p95"):
        out["end_to_end_p95_over_baseline_retrieve_p95"] = round(out["end_to_end_ms"]["p95"] / out["baseline_retrieve_vendor_ms"]["p95"], 2)
    return out


def measure_server(settings, vendors: Sequence[str], n: int, k: int, progress: bool, label: str) -> dict:
    """The same store served by `chroma run` (a copy of its files), through CLAUSEWISE_CHROMA_URL."""
    import socket
    import subprocess
    import sys

    folder = settings.data_dir / "chroma-server-copy"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(settings.chroma_path, folder)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chroma = Path(sys.executable).with_name("chroma")
    log = (settings.data_dir / "chroma-server.log").open("w")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(folder), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        server = settings.model_copy(update={"chroma_url": f"http://127.0.0.1:{port}"})
        deadline = time.monotonic() + 120
        while True:
            try:
                from clausewise.store import open_client

                open_client(server)
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.5)
        return measure_latency(server, None, vendors, {}, n, k, progress, f"{label} server")
    except Exception as exc:  # noqa: BLE001 - recorded, the other measurements stand
        return {"ours_error": f"{exc.__class__.__name__}: {exc}"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


def _vendor_files(settings) -> dict[str, list[str]]:
    from clausewise.store import Store

    files: dict[str, list[str]] = {}
    for entry in Store(settings).ledger().values():
        files.setdefault(entry.info.vendor, []).append(entry.info.source_file)
    return files


# ---- the run -------------------------------------------------------------------------------------------


def machine() -> dict:
    import torch

    load = os.getloadavg() if hasattr(os, "getloadavg") else (0, 0, 0)
    return {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform(),
            "python": platform.python_version(), "processor": platform.processor() or platform.machine(),
            "loadavg_start": [round(x, 2) for x in load]}


def embedding_throughput(embedder, texts: list[str]) -> dict:
    """Texts/s of the old ingest path (batches of batch_size in store order, one encode call each) and of the
    current one (longest first, EMBED_GROUP batches per call), on the same texts and threads, and how far apart
    the two vectors of each text are."""
    import numpy as np

    from clausewise.embedding import EMBED_GROUP

    embedder.embed(texts[:8])
    chars = sum(map(len, texts))

    def old() -> np.ndarray:
        return np.concatenate([embedder.embed(texts[i : i + embedder.batch_size]) for i in range(0, len(texts), embedder.batch_size)])

    def new() -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        group = embedder.batch_size * EMBED_GROUP
        rows = np.concatenate([embedder.embed([texts[i] for i in order[j : j + group]]) for j in range(0, len(order), group)])
        result = np.empty_like(rows)
        result[order] = rows
        return result

    before_ms, before = _timed(old)
    after_ms, after = _timed(new)
    return {"texts": len(texts), "loadavg": loadavg(),
            "before": {"seconds": round(before_ms / 1000, 2), "texts_per_s": round(len(texts) / (before_ms / 1000), 1),
                       "chars_per_s": round(chars / (before_ms / 1000))},
            "seconds": round(after_ms / 1000, 2), "texts_per_s": round(len(texts) / (after_ms / 1000), 1),
            "chars_per_s": round(chars / (after_ms / 1000)),
            "max_abs_vector_difference": float(np.abs(before - after).max())}


def run_bench(opts: BenchOptions) -> dict:
    from clausewise.embedding import get_embedder
    from clausewise.settings import load_settings
    from clausewise.store import Store
    from rag.baseline import BaselinePipeline
    from rag.goldsets import opp115_dir

    named, sizes = parse_scales(opts.scales, opts.synthetic_sizes)
    if not named and not sizes:
        raise ValueError("no scales to run: give --scales bundled,opp115,10k,…")
    user = load_settings()
    results = Path(opts.results or Path("results") / "bench")
    work = results / "data"
    shutil.rmtree(work, ignore_errors=True)  # every run measures fresh stores
    work.mkdir(parents=True)
    corpus = Path(opts.corpus or user.corpus_dir)
    started = time.perf_counter()
    from rag.evaluate import code_state

    out: dict = {"machine": machine(), "code": code_state(), "options": {"scales": named, "synthetic_sizes": sizes, "queries": opts.queries,
                                                    "k": opts.k, "embed_sample": opts.embed_sample,
                                                    "embedding_cache_seeded": bool(opts.vector_cache)},
                 "rss_start_mb": peak_rss_mb(), "scales": []}
    load_ms, embedder = _timed(get_embedder, user.embedding_model, user.embed_batch_size)
    out["model_load_ms"] = round(load_ms, 1)

    bundled_settings = settings_for(work / "bundled")
    bundled = ingest_scale(work / "bundled", corpus, [], opts.vector_cache, opts.progress)
    bundled_files = bundled.pop("files")
    bundled["store_mb"] = dir_mb(bundled_settings.data_dir)
    bundled["peak_rss_mb"] = peak_rss_mb()

    # embedding throughput on its own (real clause texts, the configured batch size)
    texts = [c.embed_text for c in Store(bundled_settings).all_chunks()]
    texts = (texts * (opts.embed_sample // max(1, len(texts)) + 1))[: opts.embed_sample]
    out["embedding"] = embedding_throughput(embedder, texts) | {"batch_size": user.embed_batch_size, "model": user.embedding_model}

    if "bundled" in named:
        baseline = BaselinePipeline(work / "bundled-baseline", user.embedding_model)
        build = baseline.build(bundled_files)
        files_of = _vendor_files(bundled_settings)
        scale = {"scale": "bundled", "chunks": bundled["chunks"], "vendors": len(files_of), "ingest": bundled,
                 "baseline_build": build}
        scale["latency"] = measure_latency(bundled_settings, baseline, sorted(files_of), files_of, opts.queries, opts.k,
                                           opts.progress, "bundled")
        scale["peak_rss_mb"], scale["rss_mb"] = peak_rss_mb(), rss_mb()
        out["scales"].append(scale)

    if "opp115" in named:
        folder = opp115_dir(opts.opp115)
        files = sorted(folder.glob("*.txt"))
        settings = settings_for(work / "opp115")
        ingest = ingest_scale(work / "opp115", None, files, opts.vector_cache, opts.progress)
        ingest.pop("files")
        ingest["store_mb"] = dir_mb(settings.data_dir)
        ingest["peak_rss_mb"] = peak_rss_mb()
        baseline = BaselinePipeline(work / "opp115-baseline", user.embedding_model)
        build = baseline.build(files)
        files_of = _vendor_files(settings)
        vendors = random.Random(opts.seed).sample(sorted(files_of), min(20, len(files_of)))
        scale = {"scale": "opp115", "chunks": ingest["chunks"], "vendors": len(files_of), "ingest": ingest, "baseline_build": build}
        scale["latency"] = measure_latency(settings, baseline, vendors, files_of, opts.queries, opts.k, opts.progress, "opp115")
        scale["peak_rss_mb"] = peak_rss_mb()
        out["scales"].append(scale)

    for size in sizes:
        stats, nodes = build_synthetic(bundled_settings, size, work / f"synthetic-{size}", opts.seed, opts.progress)
        settings = stats.pop("settings")
        t = time.perf_counter()
        baseline = BaselinePipeline(work / f"synthetic-{size}-baseline", user.embedding_model)
        baseline.add_embedded_nodes(nodes)
        baseline_build = {"nodes": len(nodes), "seconds": round(time.perf_counter() - t, 2),
                          "store_mb": dir_mb(work / f"synthetic-{size}-baseline")}
        del nodes
        files_of = _vendor_files(settings)
        real = [v for v in sorted(files_of) if not v.startswith("synth")]
        fake = random.Random(opts.seed).sample([v for v in files_of if v.startswith("synth")], min(len(real) or 5, stats["fake_vendors"]))
        vendors = [v for pair in zip(real, fake, strict=False) for v in pair] or real or fake
        scale = {"scale": f"synthetic-{size}", "chunks": stats["chunks"], "vendors": stats["vendors"], "build": stats,
                 "baseline_build": baseline_build}
        scale["latency"] = measure_latency(settings, baseline, vendors, files_of, opts.queries, opts.k, opts.progress,
                                           f"{size:,}")
        scale["peak_rss_mb"], scale["rss_mb"] = peak_rss_mb(), rss_mb()
        del baseline
        if opts.chroma_server:
            scale["server_latency"] = measure_server(settings, vendors, opts.queries, opts.k, opts.progress, f"{size:,}")
        out["scales"].append(scale)

    out["bundled_ingest"] = bundled
    out["peak_rss_mb"] = peak_rss_mb()
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None
    write_outputs(out, results)
    out["results_dir"] = str(results)
    return out
