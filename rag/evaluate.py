"""`clausewise eval`: retrieval and answer quality on a gold set, ours against a plain llama-index baseline.

Two gold-set formats are read (the format is detected from the rows):

* seed  — {"id", "type", "question", "vendors", "answer", "evidence": [{"file", "quote"}]} over a corpus folder
  with a manifest (default: the bundled corpus/). Evidence file names may be the original corpus names:
  they are matched to the corpus files by their numeric prefix ("000_…").
* PolicyQA — {"id", "policy", "question", "answers": [{"text", "answer_start"}], "practice_type",
  "other_answer_spans_same_question"} with the policy texts in `<dataset dir>/policies/<policy>.txt`. The
  questions never name the site, so both systems are told the vendor: ours asks with vendor = the policy, the
  baseline filters on the `file_name` metadata.

Both systems index the same files in a SEPARATE data dir under the results dir (never the user's store),
keyed by the corpus, so re-runs reuse it. The metric functions at the top of this module are pure.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import clausewise.offline  # noqa: F401  (before any ML import)
from clausewise.settings import PROJECT_ROOT
from clausewise.text import normalize_ws

K_VALUES = (1, 3, 5, 10)
CHAR_BUDGET = 2000
DEFAULT_DATASET = PROJECT_ROOT / "tests" / "fixtures" / "seed_dev.jsonl"
OPP115_CANDIDATES = (PROJECT_ROOT.parent / "shared" / "eval" / "opp115" / "policies",)


class EvalError(ValueError):
    """A problem with the gold set or the corpus the user can fix."""


# ==== pure data model and metrics =====================================================================


@dataclass(frozen=True)
class Span:
    """A piece of one source file: [start, end) offsets into its text (start = -1: offsets unknown, match by text).

    For retrieved chunks, `text` is the exact slice file_text[start:end] when offsets are known.
    """

    source: str
    start: int
    end: int
    text: str = ""

    @property
    def has_offsets(self) -> bool:
        return self.start >= 0 and self.end >= self.start


def contains(chunk: Span, gold: Span) -> bool:
    """The retrieved chunk holds the whole gold span (by offsets, else by whitespace-normalised text)."""
    if chunk.source != gold.source:
        return False
    if chunk.has_offsets and gold.has_offsets:
        return chunk.start <= gold.start and gold.end <= chunk.end
    needle = normalize_ws(gold.text)
    return bool(needle) and needle in normalize_ws(chunk.text)


def kept_end(chunk: Span, budget: int) -> int:
    """The offset where the first `budget` whitespace-normalised characters of the chunk's text end."""
    if budget <= 0:
        return chunk.start
    if len(normalize_ws(chunk.text)) <= budget:
        return chunk.end
    low, high = 0, len(chunk.text)  # largest j with len(normalize_ws(text[:j])) <= budget (monotone in j)
    while low < high:
        mid = (low + high + 1) // 2
        if len(normalize_ws(chunk.text[:mid])) <= budget:
            low = mid
        else:
            high = mid - 1
    return chunk.start + low


def covered(pieces: Sequence[tuple[int, int]], gold: Span) -> bool:
    """Every non-space character of the gold span lies in one of the [start, end) pieces (of the same file)."""
    if gold.end <= gold.start:
        return False
    exact = len(gold.text) == gold.end - gold.start
    for offset in range(gold.start, gold.end):
        if exact and gold.text[offset - gold.start].isspace():
            continue
        if not any(a <= offset < b for a, b in pieces):
            return False
    return True


def hit_ranks(ranked: Sequence[Span], groups: Sequence[Sequence[Span]]) -> list[int | None]:
    """Per gold group (alternative spans of one piece of evidence): the smallest k such that the top k chunks hold
    one of its spans whole (together, when a quote runs over adjacent chunks); None when the ranking never does."""
    ranks: list[int | None] = []
    for group in groups:
        rank = None
        for i in range(1, len(ranked) + 1):
            if any(_found(ranked[:i], g, None) for g in group):
                rank = i
                break
        ranks.append(rank)
    return ranks


def _found(chunks: Sequence[Span], gold: Span, budget: int | None) -> bool:
    """`gold` is held by `chunks` (optionally cut to their first `budget` normalised characters in total)."""
    left = budget
    pieces: list[tuple[int, int]] = []
    for chunk in chunks:
        if left is not None and left <= 0:
            break
        if chunk.source == gold.source:
            if chunk.has_offsets and gold.has_offsets:
                pieces.append((chunk.start, chunk.end if left is None else kept_end(chunk, left)))
            elif _text_within(chunk, gold, left):
                return True
        if left is not None:
            left -= len(normalize_ws(chunk.text))
    return bool(pieces) and gold.has_offsets and covered(pieces, gold)


def _text_within(chunk: Span, gold: Span, budget: int | None) -> bool:
    """Fallback without offsets: the normalised gold text occurs in the (budget-cut) normalised chunk text."""
    needle, hay = normalize_ws(gold.text), normalize_ws(chunk.text)
    return bool(needle) and needle in (hay if budget is None else hay[:budget])


def budget_hits(ranked: Sequence[Span], groups: Sequence[Sequence[Span]], budget: int = CHAR_BUDGET) -> list[bool]:
    """Per gold group: held within the first `budget` characters of the ranked chunks' (normalised) text."""
    return [any(_found(ranked, g, budget) for g in group) for group in groups]


def recall_at_k(ranks: Sequence[int | None], k: int) -> float | None:
    """Fraction of gold groups found in the top k (None when the question has no evidence)."""
    if not ranks:
        return None
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def reciprocal_rank(ranks: Sequence[int | None]) -> float | None:
    """1 / rank of the first chunk that holds any gold evidence; 0 when none does."""
    if not ranks:
        return None
    found = [r for r in ranks if r is not None]
    return 1.0 / min(found) if found else 0.0


def fraction(flags: Sequence[bool]) -> float | None:
    return sum(map(bool, flags)) / len(flags) if flags else None


def mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def overlap(a: Span, b: Span) -> int:
    if a.source != b.source or not (a.has_offsets and b.has_offsets):
        return 0
    return max(0, min(a.end, b.end) - max(a.start, b.start))


def overlaps(a: Span, b: Span, min_fraction: float = 0.5) -> bool:
    """The spans share at least `min_fraction` of the shorter one (text containment when offsets are unknown)."""
    if a.source != b.source:
        return False
    if not (a.has_offsets and b.has_offsets):
        x, y = normalize_ws(a.text), normalize_ws(b.text)
        return bool(x and y) and (x in y or y in x)
    shorter = min(a.end - a.start, b.end - b.start)
    return shorter > 0 and overlap(a, b) >= min_fraction * shorter


def citation_precision(citations: Sequence[Span], groups: Sequence[Sequence[Span]]) -> float | None:
    """Fraction of cited spans that overlap some gold evidence (None without citations or without gold)."""
    gold = [g for group in groups for g in group]
    if not citations or not gold:
        return None
    return sum(1 for c in citations if any(overlaps(c, g) for g in gold)) / len(citations)


def evidence_coverage(citations: Sequence[Span], groups: Sequence[Sequence[Span]]) -> float | None:
    """Fraction of gold evidence groups that some citation overlaps (None without gold)."""
    if not groups:
        return None
    return sum(1 for group in groups if any(overlaps(c, g) for c in citations for g in group)) / len(groups)


def refusal_accuracy(cases: Iterable[tuple[bool, bool]]) -> float | None:
    """Of the (answerable, refused) cases that are unanswerable: the fraction the system refused."""
    return fraction([refused for answerable, refused in cases if not answerable])


def false_refusal_rate(cases: Iterable[tuple[bool, bool]]) -> float | None:
    """Of the (answerable, refused) cases that are answerable: the fraction the system refused anyway."""
    return fraction([refused for answerable, refused in cases if answerable])


def vendor_correct(retrieved_vendors: Sequence[str], gold_vendors: Sequence[str]) -> bool | None:
    """Every retrieved clause comes from a vendor the question is about (None when the gold names no vendor)."""
    if not gold_vendors:
        return None
    return bool(retrieved_vendors) and all(v in gold_vendors for v in retrieved_vendors)


def interleave(lists: Sequence[Sequence]) -> list:
    """Round-robin merge: the first of each list, then the second of each, … (one ranking for several vendors)."""
    merged = []
    for i in range(max((len(x) for x in lists), default=0)):
        merged.extend(x[i] for x in lists if i < len(x))
    return merged


def not_stated_vendors(row: dict, vendor_of_file: dict[str, str]) -> set[str]:
    """Compare-question vendors whose policy is silent: explicit `not_stated`, no evidence, or "<vendor>: not stated"."""
    if "not_stated" in row:
        return set(row["not_stated"])
    with_evidence = {vendor_of_file.get(e["file"], "") for e in row.get("evidence", [])}
    silent = {v for v in row.get("vendors", []) if v not in with_evidence}
    answer = row.get("answer", "")
    for vendor in row.get("vendors", []):
        if re.search(rf"{re.escape(vendor)}\s*:\s*not stated", answer, re.IGNORECASE):
            silent.add(vendor)
    return silent


# ==== gold set =========================================================================================


@dataclass
class EvalItem:
    id: str
    type: str
    question: str
    vendors: list[str]
    groups: list[list[Span]]  # gold evidence: each group = alternative spans of one piece of evidence
    answerable: bool
    vendor_given: bool = False  # PolicyQA: the question does not name the vendor, the harness passes it
    not_stated: set[str] = field(default_factory=set)

    @property
    def is_compare(self) -> bool:
        return self.type == "compare"


@dataclass
class Corpus:
    """What gets indexed: a manifest folder ingested as the product does, plus files with a fixed vendor each."""

    label: str
    manifest_dir: Path | None
    files: list[Path]  # every policy file (both systems index exactly these)
    fixed_vendor: dict[str, str] = field(default_factory=dict)  # file name -> vendor, for files outside the manifest


def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        raise EvalError(f"dataset not found: {path}")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise EvalError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
    if not rows:
        raise EvalError(f"{path}: no rows")
    return rows


def detect_format(rows: Sequence[dict]) -> str:
    first = rows[0]
    if "policy" in first and ("answers" in first or "answer_start" in first):
        return "policyqa"
    if "evidence" in first and "question" in first:
        return "seed"
    raise EvalError("unknown dataset format: expected seed rows (question, vendors, evidence) or PolicyQA rows (policy, answers)")


def _read_text(path: Path) -> str:
    from ingest.load import read_policy_text

    return read_policy_text(path, 10**9)[0]


def locate(text: str, quote: str) -> tuple[int, int] | None:
    """[start, end) of `quote` in `text`: exact, else with any whitespace between its words."""
    quote = quote.strip()
    start = text.find(quote)
    if start >= 0:
        return start, start + len(quote)
    words = quote.split()
    if not words:
        return None
    match = re.search(r"\s+".join(map(re.escape, words)), text)
    return (match.start(), match.end()) if match else None


def match_file(name: str, files: Sequence[Path]) -> Path | None:
    """The corpus file for an evidence file name: same name, else the same numeric prefix ("000_…")."""
    by_name = {p.name: p for p in files}
    if name in by_name:
        return by_name[name]
    prefix = re.match(r"(\d+)[_-]", name)
    if prefix:
        same = [p for p in files if re.match(rf"{prefix.group(1)}[_-]", p.name)]
        if len(same) == 1:
            return same[0]
    return None


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _span(source: str, text: str, start: int, end: int) -> Span:
    start, end = _trimmed(text, start, end)
    return Span(source, start, end, text[start:end])


def opp115_dir(explicit: Path | None) -> Path:
    for candidate in ([explicit] if explicit else list(OPP115_CANDIDATES)):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    raise EvalError("OPP-115 policies not found: pass --opp115 DIR (the folder of <domain>.txt files)")


def _domain_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.txt") if p.is_file())


def load_seed(rows: list[dict], corpus_dir: Path, manifest_name: str) -> tuple[list[EvalItem], Corpus, list[str]]:
    from ingest.load import discover_files, load_manifest

    if not corpus_dir.is_dir():
        raise EvalError(f"corpus folder not found: {corpus_dir}")
    files = discover_files(corpus_dir, manifest_name)
    manifest = load_manifest(corpus_dir, manifest_name)
    vendor_of_name = {name: info.vendor for name, info in manifest.items()}
    texts: dict[str, str] = {}
    warnings: list[str] = []
    items = []
    for row in rows:
        groups = []
        evidence_vendor: dict[str, str] = {}
        for ev in row.get("evidence", []):
            path = match_file(ev["file"], files)
            if path is None:
                warnings.append(f"{row.get('id')}: evidence file {ev['file']} matches no corpus file")
                continue
            evidence_vendor[ev["file"]] = vendor_of_name.get(path.name, "")
            text = texts.setdefault(path.name, _read_text(path))
            found = locate(text, ev["quote"])
            if found is None:
                warnings.append(f"{row.get('id')}: quote not found in {path.name}; matching it by text")
                groups.append([Span(path.name, -1, -1, ev["quote"])])
            else:
                groups.append([_span(path.name, text, *found)])
        kind = row.get("type", "single")
        items.append(
            EvalItem(
                id=str(row.get("id", len(items))),
                type=kind,
                question=row["question"],
                vendors=list(row.get("vendors", [])),
                groups=groups,
                answerable=kind != "unanswerable" and bool(row.get("evidence")),
                not_stated=not_stated_vendors(row, evidence_vendor) if kind == "compare" else set(),
            )
        )
    return items, Corpus("corpus", corpus_dir, files), warnings


def load_policyqa(rows: list[dict], policies_dir: Path) -> tuple[list[EvalItem], Corpus, list[str]]:
    if not policies_dir.is_dir():
        raise EvalError(f"PolicyQA policies folder not found: {policies_dir} (pass --corpus DIR)")
    names = sorted({row["policy"] for row in rows})
    files = []
    for name in names:
        path = policies_dir / f"{name}.txt"
        if not path.is_file():
            raise EvalError(f"policy text not found: {path}")
        files.append(path)
    texts = {p.name: _read_text(p) for p in files}
    items = []
    for row in rows:
        source = f"{row['policy']}.txt"
        text = texts[source]
        spans = []
        answers = row.get("answers") or [{"text": row["answer"], "answer_start": row["answer_start"]}]
        for answer in answers:
            start = int(answer["answer_start"])
            spans.append(_span(source, text, start, start + len(answer["text"])))
        for start, end in row.get("other_answer_spans_same_question", []):
            spans.append(_span(source, text, int(start), int(end)))
        spans = [s for s in dict.fromkeys(spans) if s.end > s.start]
        items.append(
            EvalItem(
                id=str(row["id"]),
                type=str(row.get("practice_type", "")).split("|||")[0] or "policyqa",
                question=row["question"],
                vendors=[row["policy"]],
                groups=[spans] if spans else [],
                answerable=bool(spans),
                vendor_given=True,
            )
        )
    return items, Corpus("policyqa", None, files, {p.name: p.name.removesuffix(".txt") for p in files}), []


def sample(rows: list[dict], limit: int | None, seed: int = 0) -> list[dict]:
    """A seeded random subset of `limit` rows, kept in file order (all rows when no limit)."""
    if not limit or limit >= len(rows):
        return rows
    keep = sorted(random.Random(seed).sample(range(len(rows)), limit))
    return [rows[i] for i in keep]


def with_opp115(corpus: Corpus, folder: Path) -> Corpus:
    """Add every OPP-115 policy (vendor = its domain) not already in the corpus, as distractors."""
    have = {p.name for p in corpus.files}
    extra = [p for p in _domain_files(folder) if p.name not in have]
    fixed = dict(corpus.fixed_vendor) | {p.name: p.name.removesuffix(".txt") for p in extra}
    return Corpus(corpus.label + "+opp115", corpus.manifest_dir, corpus.files + extra, fixed)


def corpus_key(corpus: Corpus, model_name: str, chunk_params: Sequence[int]) -> str:
    """Names the index dir: changes with the files, their vendors, the manifest, the model and chunking."""
    manifest = b""
    if corpus.manifest_dir is not None:
        path = corpus.manifest_dir / "manifest.toml"
        manifest = path.read_bytes() if path.is_file() else b""
    payload = json.dumps(
        {
            "files": [[p.name, p.stat().st_size] for p in sorted(corpus.files)],
            "fixed": sorted(corpus.fixed_vendor.items()),
            "manifest": hashlib.sha256(manifest).hexdigest(),
            "model": model_name,
            "chunking": list(chunk_params),
        },
        sort_keys=True,
    )
    return f"{re.sub(r'[^a-z0-9+]+', '-', corpus.label.lower())}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


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
    finally:
        ingestor.cache.close()
    if report.errors:
        raise EvalError(f"ingest failed for the eval corpus: {report.errors[0]['error']}")
    return {"documents": report.documents, "chunks": report.chunks, "embedded": report.embedded,
            "sentences_embedded": report.sentences_embedded,
            "multilingual_embedded": getattr(report, "multilingual_embedded", 0),
            "seconds": round(time.perf_counter() - started, 3)}


def _seed_vector_cache(source: Path, target: Path) -> None:
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


def _retrieval_record(ranked: list[Span], vendors_of: list[str], item: EvalItem, seconds: float) -> dict:
    ranks = hit_ranks(ranked, item.groups)
    return {
        "ranks": ranks,
        "budget_hits": budget_hits(ranked, item.groups),
        "top": [[s.source, s.start, s.end] for s in ranked[:5]],
        "top_vendors": vendors_of[:5],
        "chars": [len(normalize_ws(s.text)) for s in ranked[:5]],
        "search_ms": round(seconds * 1000, 2),
    }


def summarize(records: list[dict], items: list[EvalItem], answers: bool) -> dict:
    """The metrics of one system over `items` (records[i] belongs to items[i])."""
    with_gold = [(r, it) for r, it in zip(records, items, strict=True) if it.groups]
    out: dict = {"questions": len(items), "questions_with_evidence": len(with_gold)}
    for k in K_VALUES:
        out[f"recall@{k}"] = mean(recall_at_k(r["ranks"], k) for r, _ in with_gold)
    out["mrr"] = mean(reciprocal_rank(r["ranks"]) for r, _ in with_gold)
    out[f"recall@{CHAR_BUDGET}c"] = mean(fraction(r["budget_hits"]) for r, _ in with_gold)
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
    return out


def _answer_metrics(records: list[dict], items: list[EvalItem]) -> dict:
    pairs = [(r["answer"], it) for r, it in zip(records, items, strict=True) if "answer" in r]
    precisions, coverages, refusal_cases, citation_chars, rows = [], [], [], [], []
    for ans, it in pairs:
        cites = [Span(*c) for c in ans["citations"]]
        citation_chars.extend(s.end - s.start for s in cites if s.has_offsets)
        if it.groups:
            precisions.append(citation_precision(cites, it.groups))
            coverages.append(evidence_coverage(cites, it.groups))
        if it.is_compare:
            rows.extend(row["stated"] == (row["vendor"] not in it.not_stated) for row in ans.get("rows", []))
        else:
            refusal_cases.append((it.answerable, ans["refused"]))
    stages: dict[str, list[float]] = {}
    for ans, _ in pairs:
        for timing in ans["timings"]:
            for stage, seconds in timing.items():
                stages.setdefault(stage, []).append(seconds * 1000)
    return {
        "citation_precision": mean(precisions),
        "evidence_coverage": mean(coverages),
        "refusal_accuracy": refusal_accuracy(refusal_cases),
        "false_refusal_rate": false_refusal_rate(refusal_cases),
        "compare_not_stated_accuracy": fraction(rows),
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
        _seed_vector_cache(Path(opts.vector_cache), settings.cache_path)

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
        query = engine._strip_vendor_names(item.question, detected)
        if detected:
            found = interleave([engine.retriever.search(query, [v], opts.depth) for v in detected])[: opts.depth]
        else:
            found = engine.retriever.search(query, None, opts.depth)
        seconds = time.perf_counter() - t
        record = _retrieval_record(retrieved_spans(engine, found), [s.chunk.vendor for s in found], item, seconds)
        record["detected"] = detected
        record["answer"] = _answer_record(engine, item, opts.backend)
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
        "ours": summarize(ours_records, items, answers=True),
        "baseline": summarize(base_records, items, answers=False),
    }
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


# ==== outputs =============================================================================================


def _fmt(value, pct: bool = True) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and pct:
        return f"{value:.3f}"
    if isinstance(value, float):
        return f"{value:.0f}"
    return str(value)


RETRIEVAL_ROWS = [*(f"recall@{k}" for k in K_VALUES), "mrr", f"recall@{CHAR_BUDGET}c", "chars_per_clause", "vendor_accuracy"]
ANSWER_ROWS = ["citation_precision", "evidence_coverage", "refusal_accuracy", "false_refusal_rate",
               "compare_not_stated_accuracy", "chars_per_citation"]


def markdown_report(full: dict) -> str:
    meta, ours, base = full["meta"], full["ours"], full["baseline"]
    ob, bb = meta["ours_build"], meta["baseline_build"]
    oracle = full.get("baseline_vendor_filtered")
    lines = [
        f"# Evaluation: {Path(meta['dataset']).name}",
        "",
        f"- format: {meta['format']}; questions: {meta['questions']} ({meta['sample']}); corpus: {meta['corpus']} "
        f"({meta['documents']} documents)",
        f"- ours: clausewise hybrid retrieval + `{meta['backend']}` answers; index: {ob['documents']} documents, "
        f"{ob['chunks']} chunks ({ob['embedded']} texts embedded this run, {ob['seconds']} s)",
        f"- baseline: llama-index SimpleDirectoryReader → SentenceSplitter (defaults) → VectorStoreIndex on Chroma, "
        f"same embedding model ({meta['embedding_model']}), dense top-k; index: {bb['nodes']} nodes "
        f"({'reused' if bb['reused'] else 'built'}, {bb['seconds']} s)",
        f"- index dir: `{meta['index_dir']}`; run took {meta['seconds']} s on {meta.get('cpus')} CPU(s), load average "
        f"{meta.get('loadavg_start')} → {meta.get('loadavg_end')}; code {meta.get('code', {}).get('commit')} "
        f"(+ local changes to {', '.join(meta.get('code', {}).get('modified', [])) or 'nothing'})",
        "",
        "## Retrieval",
        "",
        "| metric | ours | baseline |" + (" baseline, vendor-filtered |" if oracle else ""),
        "|---|---:|---:|" + ("---:|" if oracle else ""),
    ]
    for key in RETRIEVAL_ROWS:
        pct = key != "chars_per_clause"
        row = f"| {key} | {_fmt(ours.get(key), pct)} | {_fmt(base.get(key), pct)} |"
        lines.append(row + (f" {_fmt(oracle.get(key), pct)} |" if oracle else ""))
    lines.append(f"| search ms p50 / p95 | {_fmt(ours['search_ms']['p50'], False)} / {_fmt(ours['search_ms']['p95'], False)} "
                 f"| {_fmt(base['search_ms']['p50'], False)} / {_fmt(base['search_ms']['p95'], False)} |" + (" |" if oracle else ""))
    if ours.get("vendor_detection_accuracy") is not None:
        lines.append(f"| vendor detection (exact set) | {_fmt(ours['vendor_detection_accuracy'])} | n/a |" + (" |" if oracle else ""))
    lines += ["", "## Answers (ours only)", "", "| metric | ours |", "|---|---:|"]
    for key in ANSWER_ROWS:
        lines.append(f"| {key} | {_fmt(ours.get(key), key != 'chars_per_citation')} |")
    lines += ["", "| stage | p50 ms | p95 ms | n |", "|---|---:|---:|---:|"]
    for stage, v in ours.get("latency_ms", {}).items():
        lines.append(f"| {stage} | {_fmt(v['p50'], False)} | {_fmt(v['p95'], False)} | {v['n']} |")
    lines += ["", "## Per question type", "", "| type | n | ours R@5 | baseline R@5 | ours R@2000c | baseline R@2000c | ours MRR | baseline MRR |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for t, o in ours["per_type"].items():
        b = base["per_type"][t]
        lines.append(f"| {t} | {o['questions']} | {_fmt(o['recall@5'])} | {_fmt(b['recall@5'])} | {_fmt(o['recall@2000c'])} "
                     f"| {_fmt(b['recall@2000c'])} | {_fmt(o['mrr'])} | {_fmt(b['mrr'])} |")
    lines += ["", "## Per question language", "", "| language | n | ours R@5 | baseline R@5 | ours R@2000c | baseline R@2000c | "
              "ours refusal acc. | ours false refusals | ours citation precision |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for lang, o in ours.get("per_language", {}).items():
        b = base["per_language"][lang]
        lines.append(f"| {lang} | {o['questions']} | {_fmt(o['recall@5'])} | {_fmt(b['recall@5'])} | {_fmt(o['recall@2000c'])} "
                     f"| {_fmt(b['recall@2000c'])} | {_fmt(o.get('refusal_accuracy'))} | {_fmt(o.get('false_refusal_rate'))} "
                     f"| {_fmt(o.get('citation_precision'))} |")
    misses = [q["id"] for q in full["questions"] if q["ours"]["ranks"] and recall_at_k(q["ours"]["ranks"], 5) == 0]
    lines += [
        "",
        "## How it is measured",
        "",
        "- recall@k: fraction of a question's gold evidence pieces held whole by the top-k retrieved units (by one unit, "
        "or by adjacent units together when a quote runs over a clause boundary); PolicyQA: the answer span or any other "
        "answer span of the same question. Averaged over questions with evidence.",
        "- MRR: 1 / rank of the first unit holding any gold evidence. recall@2000c: the same as recall, keeping only the "
        "first 2,000 characters (whitespace-normalised) of the ranked units' text: a fair budget across chunk sizes.",
        "- ours ranks several vendors (compare questions) round-robin, so k counts units in total, as for the baseline.",
        "- vendor_accuracy: the top-5 units all come from the question's vendor(s). Ours detects vendors from the question "
        "(PolicyQA: given); the baseline has no vendor notion (PolicyQA: file-name filter). The vendor-filtered baseline "
        "column gets the gold vendors' files as a filter: it isolates chunking/ranking from vendor routing.",
        "- citation_precision: cited spans overlapping gold evidence by ≥ 50 % of the shorter span (gold sets are not "
        "exhaustive, so this is a lower bound); evidence_coverage: gold pieces overlapped by a citation.",
        "- refusal_accuracy: unanswerable questions answered \"the policy does not say\"; false_refusal_rate: answerable, "
        "non-compare questions refused; compare_not_stated_accuracy: compare rows whose stated / not-stated matches gold.",
        f"- ours questions with no gold evidence in the top 5: {', '.join(misses) or 'none'}",
    ]
    if meta["warnings"]:
        lines += ["", "## Warnings", "", *(f"- {w}" for w in meta["warnings"])]
    lines += ["", "![recall@k](recall_at_k.png)", "", "![per type](per_type.png)", ""]
    return "\n".join(lines)


def write_charts(full: dict, results: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    systems = [("ours", full["ours"]), ("baseline", full["baseline"])]
    if full.get("baseline_vendor_filtered"):
        systems.append(("baseline, vendor-filtered", full["baseline_vendor_filtered"]))
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, metrics in systems:
        ys = [metrics.get(f"recall@{k}") or 0 for k in K_VALUES]
        ax.plot(K_VALUES, ys, marker="o", label=f"{name} (R@2000c {metrics.get('recall@2000c') or 0:.2f})")
    ax.set_xlabel("k (retrieved units)")
    ax.set_ylabel("evidence recall@k")
    ax.set_ylim(0, 1.02)
    ax.set_xticks(K_VALUES)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"{Path(full['meta']['dataset']).name}: recall@k")
    fig.tight_layout()
    fig.savefig(results / "recall_at_k.png", dpi=110)
    plt.close(fig)
    written.append("recall_at_k.png")

    types = list(full["ours"]["per_type"])
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(types)), 4))
    width = 0.2
    bars = [("ours R@5", "ours", "recall@5"), ("baseline R@5", "baseline", "recall@5"),
            ("ours R@2000c", "ours", "recall@2000c"), ("baseline R@2000c", "baseline", "recall@2000c")]
    for j, (label, system, key) in enumerate(bars):
        ys = [full[system]["per_type"][t].get(key) or 0 for t in types]
        ax.bar([i + (j - 1.5) * width for i in range(len(types))], ys, width, label=label)
    ax.set_xticks(range(len(types)))
    ax.set_xticklabels([t[:22] for t in types], rotation=25, ha="right", fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("evidence recall")
    ax.legend(fontsize=8)
    ax.set_title("per question type")
    fig.tight_layout()
    fig.savefig(results / "per_type.png", dpi=110)
    plt.close(fig)
    written.append("per_type.png")
    return written


def write_outputs(full: dict, results: Path) -> None:
    results.mkdir(parents=True, exist_ok=True)
    questions = full["questions"]
    (results / "eval.json").write_text(
        json.dumps({k: v for k, v in full.items() if k != "questions"}, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    with (results / "questions.jsonl").open("w", encoding="utf-8") as out:
        for q in questions:
            out.write(json.dumps(q, ensure_ascii=False) + "\n")
    write_charts(full, results)
    (results / "report.md").write_text(markdown_report(full), encoding="utf-8")


def summary_text(summary: dict) -> str:
    """A short side-by-side for the terminal."""
    ours, base, meta = summary["ours"], summary["baseline"], summary["meta"]
    lines = [f"{meta['questions']} questions ({meta['format']}), corpus {meta['corpus']} ({meta['documents']} docs)",
             f"{'metric':28} {'ours':>8} {'baseline':>9}"]
    for key in RETRIEVAL_ROWS:
        pct = key != "chars_per_clause"
        lines.append(f"{key:28} {_fmt(ours.get(key), pct):>8} {_fmt(base.get(key), pct):>9}")
    for key in ANSWER_ROWS:
        lines.append(f"{key:28} {_fmt(ours.get(key), key != 'chars_per_citation'):>8} {'':>9}")
    lines.append(f"report: {Path(meta['results_dir']) / 'report.md'}")
    return "\n".join(lines)
