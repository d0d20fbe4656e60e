"""Gold sets for `clausewise eval` and `clausewise calibrate`: read them, find their evidence in the policy files,
and say which files to index.

Two formats are read (detected from the rows):

* seed  — {"id", "type", "question", "vendors", "answer", "evidence": [{"file", "quote"}]} over a corpus folder
  with a manifest (default: the bundled corpus/). Evidence file names may be the original corpus names:
  they are matched to the corpus files by their numeric prefix ("000_…").
* PolicyQA — {"id", "policy", "question", "answers": [{"text", "answer_start"}], "practice_type",
  "other_answer_spans_same_question"} with the policy texts in `<dataset dir>/policies/<policy>.txt`. The
  questions never name the site, so the vendor is given with each question.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from clausewise.settings import PROJECT_ROOT
from rag.metrics import Span

DEFAULT_DATASET = PROJECT_ROOT / "tests" / "fixtures" / "seed_dev.jsonl"
OPP115_CANDIDATES = (PROJECT_ROOT.parent / "shared" / "eval" / "opp115" / "policies",)


class EvalError(ValueError):
    """A problem with the gold set or the corpus the user can fix."""


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
