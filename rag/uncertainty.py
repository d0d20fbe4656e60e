"""How sure a gold-set figure is: per-question values of the mean metrics, confidence intervals over questions
(Wilson for yes/no values, bootstrap otherwise), and the paired difference between two runs over the same questions (another commit, another setting).

On a 37-question set one question moves recall by ~0.03: a change whose interval contains 0 is not a measured change.
Used by `clausewise eval` (rag/evaluate.py) and its report (rag/eval_report.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.goldsets import EvalError, EvalItem
from rag.metrics import (
    CHAR_BUDGET,
    K_VALUES,
    Span,
    citation_precision,
    false_refusal_rate,
    fraction,
    recall_at_k,
    reciprocal_rank,
    refusal_accuracy,
)

LEVEL = 0.95
RESAMPLES = 2000
SEED = 0
# the metrics that are a mean over questions, so each question has a value (where it counts) and an interval exists:
# those `retrieval_metrics` gives and those `answer_metrics` gives
RETRIEVAL_METRICS = (*(f"recall@{k}" for k in K_VALUES), "mrr", f"recall@{CHAR_BUDGET}c", "recall@5 per vendor")
ANSWER_METRICS = ("citation_precision", "refusal_accuracy", "false_refusal_rate")
# the ones the report gives an interval and a paired comparison for
HEADLINE_METRICS = ("recall@5", f"recall@{CHAR_BUDGET}c", "mrr", "citation_precision", "refusal_accuracy",
                    "false_refusal_rate")


def retrieval_metrics(record: dict, item: EvalItem) -> dict[str, float]:
    """One question's recall@k, MRR and recall@2000c (a retrieval record of rag/evaluate.py); none without gold."""
    if not item.groups:
        return {}
    out = {f"recall@{k}": recall_at_k(record["ranks"], k) for k in K_VALUES}
    out["mrr"] = reciprocal_rank(record["ranks"])
    out[f"recall@{CHAR_BUDGET}c"] = fraction(record["budget_hits"])
    # what each vendor's answer reads: a gold quote counts when it is in the top 5 of its vendor's own ranking (a
    # comparison question's interleaved list above holds only one or two clauses per vendor in its first five)
    if "vendor_ranks" in record:
        out["recall@5 per vendor"] = recall_at_k(record["vendor_ranks"], 5)
    return {k: v for k, v in out.items() if v is not None}


def answer_metrics(answer: dict, item: EvalItem) -> dict[str, float]:
    """One answer's citation precision where the question has evidence and something was cited; refusal accuracy
    (1 = refused) where it is unanswerable and false refusals (1 = refused) where it is answerable, comparison
    questions excepted (their rows are scored apart)."""
    out: dict[str, float | None] = {}
    if item.groups:
        out["citation_precision"] = citation_precision([Span(*c) for c in answer["citations"]], item.groups)
    if not item.is_compare:
        case = [(item.answerable, bool(answer["refused"]))]
        out["refusal_accuracy"], out["false_refusal_rate"] = refusal_accuracy(case), false_refusal_rate(case)
    return {k: v for k, v in out.items() if v is not None}


def interval(values: Sequence[float]) -> list[float] | None:
    """The 95 % interval of the mean of `values`; None for fewer than two. Yes/no values (a refusal, a hit) get the
    Wilson score interval, which stays honest at 0 or 1 (5 of 5 refused is not certainty: [0.57, 1.0]); other values
    the percentile bootstrap."""
    if len(values) < 2:
        return None
    data = np.asarray(values, dtype=float)
    if not np.isin(data, (0.0, 1.0)).all():
        return bootstrap_interval(data)
    from scipy.stats import binomtest

    bounds = binomtest(int(data.sum()), len(data)).proportion_ci(confidence_level=LEVEL, method="wilson")
    return [float(bounds.low), float(bounds.high)]


def bootstrap_interval(values: Sequence[float]) -> list[float] | None:
    """The 95 % percentile-bootstrap interval of the mean of `values` (fixed seed); None for fewer than two."""
    if len(values) < 2:
        return None
    data = np.asarray(values, dtype=float)
    if np.all(data == data[0]):
        return [float(data[0]), float(data[0])]
    from scipy.stats import bootstrap

    result = bootstrap((data,), np.mean, confidence_level=LEVEL, n_resamples=RESAMPLES, method="percentile",
                       random_state=np.random.default_rng(SEED))
    return [float(result.confidence_interval.low), float(result.confidence_interval.high)]


def intervals(per_question: Sequence[dict[str, float]]) -> dict[str, list[float] | None]:
    """`interval` of each headline metric over the questions it counts in."""
    return {key: interval([m[key] for m in per_question if key in m]) for key in HEADLINE_METRICS}


def read_previous(path: Path) -> dict[str, dict[str, float]]:
    """Per-question metrics of ours from an earlier run: its results folder or its questions.jsonl."""
    path = Path(path)
    file = path / "questions.jsonl" if path.is_dir() else path
    if not file.is_file():
        raise EvalError(f"--against: no questions.jsonl at {path} (give an earlier `clausewise eval` results folder)")
    previous: dict[str, dict[str, float]] = {}
    for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            previous[row["id"]] = row["ours"]["metrics"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise EvalError(f"--against: {file} line {n} has no per-question metrics ({exc.__class__.__name__}: {exc}); "
                            "it comes from an older clausewise: run that version's eval again") from exc
    return previous


def paired(current: dict[str, dict[str, float]], previous: dict[str, dict[str, float]]) -> dict:
    """For each headline metric, over the questions both runs count it in (same ids): the previous and current
    means, the mean per-question difference with its 95 % bootstrap interval, and how many questions got better
    or worse. The questions are the same, so their own difficulty cancels out of the difference."""
    shared = sorted(set(current) & set(previous))
    out: dict = {"questions": len(shared), "metrics": {}}
    for key in HEADLINE_METRICS:
        ids = [q for q in shared if key in current[q] and key in previous[q]]
        if not ids:
            continue
        before = np.array([previous[q][key] for q in ids])
        now = np.array([current[q][key] for q in ids])
        diff = now - before
        # for the refusal-rate metrics a higher value is better for refusal accuracy, worse for false refusals
        sign = -1.0 if key == "false_refusal_rate" else 1.0
        out["metrics"][key] = {
            "n": len(ids),
            "before": float(before.mean()),
            "now": float(now.mean()),
            "difference": float(diff.mean()),
            "ci95": bootstrap_interval(diff.tolist()),
            "better": int((sign * diff > 0).sum()),
            "worse": int((sign * diff < 0).sum()),
        }
    return out
