"""`clausewise eval`: retrieval and answer quality on a gold set, ours against a plain llama-index baseline.

Both systems index the same files (rag/goldsets.py reads the gold set and says which) in a SEPARATE data dir under
the results dir (never the user's store), keyed by the corpus, so re-runs reuse it. For PolicyQA both are told the
vendor: ours asks with vendor = the policy, the baseline filters on the `file_name` metadata. Metrics are the pure
functions of rag/metrics.py; the report is written by rag/eval_report.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import clausewise.offline  # noqa: F401  (before any ML import)
from clausewise.settings import PROJECT_ROOT
from clausewise.text import normalize_ws
from rag.eval_report import write_outputs
from rag.goldsets import (
    DEFAULT_DATASET,
    Corpus,
    EvalError,
    EvalItem,
    corpus_key,
    detect_format,
    load_policyqa,
    load_seed,
    opp115_dir,
    read_jsonl,
    sample,
    with_opp115,
)
from rag.metrics import (
    K_VALUES,
    Span,
    budget_hits,
    evidence_coverage,
    fraction,
    hit_ranks,
    interleave,
    mean,
    percentile,
    vendor_correct,
)
from rag.uncertainty import (
    ANSWER_METRICS,
    RETRIEVAL_METRICS,
    answer_metrics,
    intervals,
    paired,
    read_previous,
    retrieval_metrics,
)

# ==== building the two systems ========================================================================


def build_ours(settings, corpus: Corpus, progress: bool) -> dict:
    """Ingest the corpus into the eval store (the product's own pipeline). Returns timing and counts."""
    from tqdm import tqdm

    from clausewise.types import DocumentInfo
    from ingest.load import doc_id_from_filename, load_document
    from ingest.pipeline import Ingestor, IngestReport

    started = time.perf_counter()
    ingestor = Ingestor(settings)
    try:
        report = ingestor.ingest_corpus(corpus.manifest_dir, progress=progress) if corpus.manifest_dir else IngestReport()
        fixed = [p for p in corpus.files if p.name in corpus.fixed_vendor]
        for path in tqdm(fixed, desc="ours: ingest", unit="doc", disable=not progress or not fixed):
            vendor = corpus.fixed_vendor[path.name]
            info = DocumentInfo(
                doc_id=doc_id_from_filename(path), vendor=vendor, source_file=path.name, title=vendor, aliases=(vendor,)
            )
            ingestor.ingest_document(load_document(path, info, int(settings.max_file_mb * 1e6)), report)
            report.documents += 1
        if fixed:
            ingestor.sync_multilingual(report, progress)  # as an ingest of a corpus folder does
    finally:
        ingestor.cache.close()
    if report.errors:
        raise EvalError(f"ingest failed for the eval corpus: {report.errors[0]['error']}")
    return {"documents": report.documents, "chunks": report.chunks, "embedded": report.embedded,
            "sentences_embedded": report.sentences_embedded,
            "multilingual_embedded": getattr(report, "multilingual_embedded", 0),
            "seconds": round(time.perf_counter() - started, 3)}


def seed_vector_cache(source: Path, target: Path) -> None:
    """Copy an existing embedding cache (sqlite) into the eval store so known texts are not embedded again."""
    import sqlite3

    if not source.is_file():
        raise EvalError(f"vector cache not found: {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(str(source)), sqlite3.connect(str(target))
    try:
        dst.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vector BLOB, PRIMARY KEY (model, hash))")
        rows = src.execute("SELECT model, hash, vector FROM vectors").fetchall()
        with dst:
            dst.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?, ?)", rows)
    finally:
        src.close()
        dst.close()


# ==== running ============================================================================================


@dataclass
class EvalOptions:
    dataset: Path = DEFAULT_DATASET
    corpus: Path | None = None
    with_opp115: bool = False
    opp115: Path | None = None
    limit: int | None = None
    backend: str = "extractive"
    results: Path | None = None
    vector_cache: Path | None = None
    against: Path | None = None  # an earlier run (questions.jsonl or its results folder) to pair ours with, question by question
    progress: bool = True
    seed: int = 0
    depth: int = max(K_VALUES)


def code_state() -> dict:
    """The commit and locally modified files the numbers were measured with (empty outside a git checkout)."""
    import subprocess

    def git(*args: str) -> str:
        try:
            proc = subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10, check=False)
        except OSError:
            return ""
        return proc.stdout if proc.returncode == 0 else ""

    dirty = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines() if len(line) > 3]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "modified": dirty}


def load_average() -> list[float] | None:
    import os

    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def default_results_dir(dataset: Path, opp: bool) -> Path:
    stem = dataset.stem
    if stem.lower() in {"dev", "test", "train", "valid", "validation"}:
        stem = f"{dataset.parent.name}-{stem}"
    return Path("results") / f"eval-{stem}{'-opp115' if opp else ''}"


def product_ranking(engine, query: str, vendors: list[str] | None, depth: int) -> list:
    """The clauses the product retrieves (its top_k, where the keyword and answer-type slots hold their places), then
    the rest of a `depth`-deep search. A search for `depth` alone would put the slots at depth-1 and depth-2: recall@5
    would not measure the five clauses an answer is made from."""
    first = engine.retriever.search(query, vendors, engine.settings.top_k)
    seen = {s.chunk.chunk_id for s in first}
    return (first + [s for s in engine.retriever.search(query, vendors, depth) if s.chunk.chunk_id not in seen])[:depth]


def retrieved_spans(engine, items) -> list[Span]:
    """The file spans (and their text) of retrieved chunks, in rank order: what the recall metrics read."""
    spans = []
    for item in items:
        c = item.chunk
        raw = engine.raw_text(c.doc_id)
        spans.append(Span(engine_source(engine, c.doc_id), c.start, c.end, raw[c.start : c.end] if raw else c.text))
    return spans


def engine_source(engine, doc_id: str) -> str:
    """The file name a stored document came from."""
    cache = engine.__dict__.setdefault("_eval_sources", {})
    if not cache:
        cache.update({d.doc_id: d.source_file for d in engine.documents()})
    return cache.get(doc_id, doc_id)


def _citation_spans(engine, citations) -> list[Span]:
    spans = []
    for c in citations:
        raw = engine.raw_text(c.document)
        spans.append(Span(engine_source(engine, c.document), c.start, c.end, raw[c.start : c.end] if raw else c.quote))
    return spans


def vendor_ranks(engine, rankings: list[list], item: EvalItem) -> list[int | None]:
    """Each gold group's best rank within one vendor's own ranking (`rankings`: one per vendor asked), None if absent."""
    per_vendor = [hit_ranks(retrieved_spans(engine, ranking), item.groups) for ranking in rankings]
    return [min((r for r in ranks if r is not None), default=None) for ranks in zip(*per_vendor, strict=True)]


def _retrieval_record(ranked: list[Span], vendors_of: list[str], item: EvalItem, seconds: float,
                      by_vendor: list[int | None] | None = None) -> dict:
    ranks = hit_ranks(ranked, item.groups)
    record = {
        "ranks": ranks,
        **({"vendor_ranks": by_vendor} if by_vendor is not None else {}),
        "budget_hits": budget_hits(ranked, item.groups),
        "top": [[s.source, s.start, s.end] for s in ranked[:5]],
        "top_vendors": vendors_of[:5],
        "chars": [len(normalize_ws(s.text)) for s in ranked[:5]],
        "search_ms": round(seconds * 1000, 2),
    }
    record["metrics"] = retrieval_metrics(record, item)
    return record


def summarize(records: list[dict], items: list[EvalItem], answers: bool, with_intervals: bool = False) -> dict:
    """The metrics of one system over `items` (records[i] belongs to items[i], each with its per-question "metrics",
    rag/uncertainty); `with_intervals` adds the headline metrics' 95 % intervals (rag/uncertainty.interval)."""
    per_question = [r["metrics"] for r in records]
    with_gold = [(r, it) for r, it in zip(records, items, strict=True) if it.groups]
    out: dict = {"questions": len(items), "questions_with_evidence": len(with_gold)}
    for key in RETRIEVAL_METRICS:
        out[key] = mean(m.get(key) for m in per_question)
    out["chars_per_clause"] = mean(c for r in records for c in r["chars"])
    out["vendor_accuracy"] = fraction(
        [ok for r, it in zip(records, items, strict=True) if (ok := vendor_correct(r["top_vendors"], it.vendors)) is not None]
    )
    searches = [r["search_ms"] for r in records]
    out["search_ms"] = {"p50": percentile(searches, 50), "p95": percentile(searches, 95)}
    if records and "detected" in records[0]:
        out["vendor_detection_accuracy"] = fraction(
            [set(r["detected"]) == set(it.vendors) for r, it in zip(records, items, strict=True) if not it.vendor_given and it.vendors]
        )
    if answers:
        out.update(_answer_metrics(records, items))
    if with_intervals:
        out["ci95"] = {k: v for k, v in intervals(per_question).items() if k in out and out[k] is not None}
    return out


def _answer_metrics(records: list[dict], items: list[EvalItem]) -> dict:
    pairs = [(r["answer"], r["metrics"], it) for r, it in zip(records, items, strict=True) if "answer" in r]
    coverages, citation_chars, rows = [], [], []
    by_strength: dict[bool, list[float]] = {True: [], False: []}  # citation precision of weak-match answers and others
    for ans, metrics, it in pairs:
        cites = [Span(*c) for c in ans["citations"]]
        citation_chars.extend(s.end - s.start for s in cites if s.has_offsets)
        if it.groups:
            coverages.append(evidence_coverage(cites, it.groups))
            if not ans["refused"] and not it.is_compare:
                by_strength[bool(ans.get("weak"))].append(metrics.get("citation_precision"))
        if it.is_compare:
            rows.extend(row["stated"] == (row["vendor"] not in it.not_stated) for row in ans.get("rows", []))
    stages: dict[str, list[float]] = {}
    for ans, _, _ in pairs:
        for timing in ans["timings"]:
            for stage, seconds in timing.items():
                stages.setdefault(stage, []).append(seconds * 1000)
    return {
        **{key: mean(m.get(key) for _, m, _ in pairs) for key in ANSWER_METRICS},
        "evidence_coverage": mean(coverages),
        "compare_not_stated_accuracy": fraction(rows),
        "weak_match_share": len(by_strength[True]) / answered if (answered := sum(map(len, by_strength.values()))) else None,
        "citation_precision_weak_match": mean(by_strength[True]),
        "citation_precision_other_answers": mean(by_strength[False]),
        "chars_per_citation": mean(citation_chars),
        "latency_ms": {s: {"p50": percentile(v, 50), "p95": percentile(v, 95), "n": len(v)} for s, v in stages.items()},
    }


def _answer_record(engine, item: EvalItem, backend: str) -> dict:
    if item.is_compare:
        comparison = engine.compare(item.question, item.vendors)
        answers = [row.answer for row in comparison.rows]
        rows = [{"vendor": row.vendor, "stated": row.stated} for row in comparison.rows]
        refused = not any(row.stated for row in comparison.rows)
    else:
        answer = engine.ask(item.question, vendor=item.vendors[0] if item.vendor_given else None, backend=backend)
        answers, rows, refused = [answer], [], answer.refused
    citations = [s for a in answers for s in _citation_spans(engine, a.citations)]
    return {
        "refused": refused,
        "citations": [[s.source, s.start, s.end] for s in citations],  # offsets only: no policy text in results
        "rows": rows,
        "timings": [a.timings for a in answers],
        "backends": sorted({a.backend for a in answers}),
        "answer_vendors": sorted({v for a in answers for v in a.vendors}),
        "weak": any(a.weak_matches for a in answers),
    }


def run_eval(opts: EvalOptions) -> dict:
    """Build (or reuse) both indexes, run every question through both systems, write the report. Returns the summary."""
    from tqdm import tqdm

    from clausewise.settings import Settings, load_settings
    from rag.api import Engine
    from rag.baseline import BaselinePipeline

    started = time.perf_counter()
    load_start = load_average()
    user = load_settings()
    dataset = Path(opts.dataset or DEFAULT_DATASET)
    rows = read_jsonl(dataset)
    kind = detect_format(rows)
    previous = read_previous(Path(opts.against)) if opts.against else None  # read first: a bad path fails before the run
    all_rows = rows
    rows = sample(rows, opts.limit, opts.seed)
    if kind == "seed":
        items, corpus, warnings = load_seed(rows, Path(opts.corpus or user.corpus_dir), user.manifest)
    else:
        # index every policy the full dataset asks about, so --limit does not change the index
        _, corpus, warnings = load_policyqa(all_rows, Path(opts.corpus or dataset.parent / "policies"))
        items, _, _ = load_policyqa(rows, Path(opts.corpus or dataset.parent / "policies"))
    if opts.with_opp115:
        corpus = with_opp115(corpus, opp115_dir(opts.opp115))
    results = Path(opts.results or default_results_dir(dataset, opts.with_opp115))
    key = corpus_key(corpus, user.embedding_model, [user.chunk_min_words, user.chunk_max_words])
    index_dir = results / "index" / key
    settings = Settings(data_dir=index_dir / "ours", chroma_url=None, backend=opts.backend)
    if opts.vector_cache:
        seed_vector_cache(Path(opts.vector_cache), settings.cache_path)

    ours_build = build_ours(settings, corpus, opts.progress)
    baseline = BaselinePipeline(index_dir / "baseline", settings.embedding_model)
    baseline_build = baseline.build(corpus.files, progress=opts.progress)
    engine = Engine(settings)
    documents = engine.documents()
    vendor_of_file = {d.source_file: d.vendor for d in documents}
    files_of_vendor: dict[str, list[str]] = {}
    for name, vendor in vendor_of_file.items():
        files_of_vendor.setdefault(vendor, []).append(name)
    engine.retriever.search("warm up", None, 1)  # builds the BM25 index once, outside the timings
    baseline.search("warm up", None, 1)

    ours_records, base_records, oracle_records = [], [], []
    for item in tqdm(items, desc=f"eval {dataset.name}", unit="q", disable=not opts.progress):
        # ours: the product's path (vendor detection unless the dataset gives the vendor)
        t = time.perf_counter()
        # Engine's own vendor choice and query rewriting, as Engine.ask does them (private helpers, same behaviour)
        detected, _ = engine._vendors_for(item.question, item.vendors[0] if item.vendor_given else None)
        query, every_policy = engine._query_for(item.question, detected)
        detected = engine.vendors() if every_policy else detected
        rankings = [product_ranking(engine, query, [v], opts.depth) for v in detected] if detected else [
            product_ranking(engine, query, None, opts.depth)]
        found = interleave(rankings)[: opts.depth]
        seconds = time.perf_counter() - t
        record = _retrieval_record(retrieved_spans(engine, found), [s.chunk.vendor for s in found], item, seconds,
                                   vendor_ranks(engine, rankings, item))
        record["detected"] = detected
        record["answer"] = _answer_record(engine, item, opts.backend)
        record["metrics"].update(answer_metrics(record["answer"], item))
        ours_records.append(record)
        # baseline: the plain pipeline; it only knows file names, so PolicyQA's given vendor becomes a file filter
        files = [f for v in item.vendors for f in files_of_vendor.get(v, [])] if item.vendor_given else None
        t = time.perf_counter()
        hits = baseline.search(item.question, files, opts.depth)
        seconds = time.perf_counter() - t
        spans = [Span(h.source, h.start, h.end, h.text) for h in hits]
        base_records.append(_retrieval_record(spans, [vendor_of_file.get(h.source, h.source) for h in hits], item, seconds))
        if kind == "seed" and item.vendors:
            oracle_files = [f for v in item.vendors for f in files_of_vendor.get(v, [])]
            t = time.perf_counter()
            hits = baseline.search(item.question, oracle_files, opts.depth)
            seconds = time.perf_counter() - t
            spans = [Span(h.source, h.start, h.end, h.text) for h in hits]
            oracle_records.append(_retrieval_record(spans, [vendor_of_file.get(h.source, h.source) for h in hits], item, seconds))
        else:
            oracle_records.append(None)

    summary = {
        "ours": summarize(ours_records, items, answers=True, with_intervals=True),
        "baseline": summarize(base_records, items, answers=False, with_intervals=True),
    }
    if previous is not None:
        summary["against"] = {"run": str(opts.against), **paired(
            {it.id: r["metrics"] for r, it in zip(ours_records, items, strict=True)}, previous)}
    types = sorted({it.type for it in items})
    per_type = {"ours": {}, "baseline": {}}
    for t in types:
        idx = [i for i, it in enumerate(items) if it.type == t]
        per_type["ours"][t] = summarize([ours_records[i] for i in idx], [items[i] for i in idx], answers=True)
        per_type["baseline"][t] = summarize([base_records[i] for i in idx], [items[i] for i in idx], answers=False)
    summary["ours"]["per_type"] = per_type["ours"]
    summary["baseline"]["per_type"] = per_type["baseline"]
    from clausewise.language import detect_language

    languages = [detect_language(it.question) for it in items]
    for system, records in (("ours", ours_records), ("baseline", base_records)):
        summary[system]["per_language"] = {
            lang: summarize([records[i] for i, x in enumerate(languages) if x == lang],
                            [items[i] for i, x in enumerate(languages) if x == lang], answers=system == "ours")
            for lang in sorted(set(languages))
        }
    oracle = [(r, it) for r, it in zip(oracle_records, items, strict=True) if r is not None]
    extra = {}
    if oracle:
        extra["baseline_vendor_filtered"] = summarize([r for r, _ in oracle], [it for _, it in oracle], answers=False)
    meta = {
        "dataset": str(dataset),
        "format": kind,
        "questions": len(items),
        "dataset_rows": len(all_rows),
        "sample": f"seeded random sample (seed {opts.seed}) of {len(items)}" if len(items) < len(all_rows) else "all rows",
        "corpus": corpus.label,
        "documents": len(corpus.files),
        "index_dir": str(index_dir),
        "results_dir": str(results),
        "backend": opts.backend,
        "embedding_model": settings.embedding_model,
        "ours_build": ours_build,
        "baseline_build": baseline_build,
        "depth": opts.depth,
        "warnings": warnings,
        "seconds": round(time.perf_counter() - started, 1),
        "code": code_state(),
        "cpus": __import__("os").cpu_count(),
        "loadavg_start": load_start,
        "loadavg_end": load_average(),
    }
    summary["meta"] = meta
    full = {**summary, **extra, "questions": [
        {"id": it.id, "type": it.type, "question": it.question, "vendors": it.vendors,
         "ours": o, "baseline": b, "baseline_vendor_filtered": x}
        for it, o, b, x in zip(items, ours_records, base_records, oracle_records, strict=True)
    ]}
    write_outputs(full, results)
    return summary
