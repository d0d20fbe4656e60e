"""How sure an eval figure is: per-question metrics, bootstrap intervals and the paired comparison of two runs
(rag/uncertainty.py), on hand-made records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.goldsets import EvalError, EvalItem
from rag.metrics import Span
from rag.uncertainty import answer_metrics, interval, intervals, paired, read_previous, retrieval_metrics

GOLD = Span("acme.txt", 100, 140, "We keep account data for 30 days")
ANSWERABLE = EvalItem("a", "single", "How long is data kept?", ["Acme"], [[GOLD]], answerable=True)
UNANSWERABLE = EvalItem("u", "unanswerable", "Who is the DPO?", ["Acme"], [], answerable=False)
COMPARE = EvalItem("c", "compare", "Who keeps data longest?", ["Acme", "Beta"], [[GOLD]], answerable=True)


def record(ranks: list, refused: bool, citations: list) -> dict:
    return {"ranks": ranks, "budget_hits": [r is not None for r in ranks],
            "answer": {"refused": refused, "citations": citations}}


def question_metrics(rec: dict, item: EvalItem) -> dict[str, float]:
    """Both parts, as `clausewise eval` records them for ours."""
    return {**retrieval_metrics(rec, item), **answer_metrics(rec["answer"], item)}


def test_question_metrics_count_each_question_only_where_it_belongs() -> None:
    cited_gold = [["acme.txt", 100, 140]]
    found = question_metrics(record([2], refused=False, citations=cited_gold), ANSWERABLE)
    assert found["recall@1"] == 0.0 and found["recall@3"] == 1.0 and found["mrr"] == 0.5
    assert found["citation_precision"] == 1.0 and found["false_refusal_rate"] == 0.0
    assert "refusal_accuracy" not in found  # an answerable question says nothing about refusing unanswerable ones
    refused = question_metrics(record([], refused=True, citations=[]), UNANSWERABLE)
    assert refused == {"refusal_accuracy": 1.0}  # no gold evidence: no recall, no citation precision
    # a comparison's refusals are scored by its rows, not here
    assert "false_refusal_rate" not in question_metrics(record([1], refused=False, citations=cited_gold), COMPARE)
    # retrieval records (the baseline's) get retrieval metrics only
    assert set(retrieval_metrics({"ranks": [None], "budget_hits": [False]}, ANSWERABLE)) == {
        "recall@1", "recall@3", "recall@5", "recall@10", "mrr", "recall@2000c"}


def test_a_comparison_counts_recall_within_each_vendors_own_five() -> None:
    # four vendors interleaved: the gold clause is Beta's second, sixth in the merged list; Beta's row reads it
    compared = retrieval_metrics({"ranks": [6], "vendor_ranks": [2], "budget_hits": [True]}, COMPARE)
    assert compared["recall@5"] == 0.0 and compared["recall@5 per vendor"] == 1.0
    missed = retrieval_metrics({"ranks": [None], "vendor_ranks": [7], "budget_hits": [False]}, COMPARE)
    assert missed["recall@5 per vendor"] == 0.0


def test_interval_brackets_the_mean_and_narrows_with_more_questions() -> None:
    few = [1.0, 0.0] * 10
    many = [1.0, 0.0] * 200
    low, high = interval(few)
    assert low < 0.5 < high
    many_low, many_high = interval(many)
    assert many_low < 0.5 < many_high and (many_high - many_low) < (high - low) / 3
    # five of five refused is not certainty (Wilson score interval for yes/no values)
    low, high = interval([1.0] * 5)
    assert 0.5 < low < 0.6 and high == 1.0
    assert interval([1.0]) is None  # one question has no interval
    graded = [0.5, 1.0, 0.0, 0.25, 1.0, 0.75]  # citation precision: not yes/no, bootstrapped
    assert interval(graded) == interval(graded)  # fixed seed: the same report twice
    assert interval(graded)[0] < sum(graded) / len(graded) < interval(graded)[1]
    per_question = [{"recall@5": 1.0}, {"recall@5": 0.0, "mrr": 1.0}, {"recall@5": 1.0}]
    assert intervals(per_question)["mrr"] is None and intervals(per_question)["recall@5"] is not None


def test_paired_difference_counts_better_and_worse_questions_on_shared_ids() -> None:
    before = {f"q{i}": {"recall@5": 0.0, "false_refusal_rate": 1.0} for i in range(30)}
    now = {f"q{i}": {"recall@5": 1.0 if i < 20 else 0.0, "false_refusal_rate": 0.0} for i in range(30)}
    now["extra"] = {"recall@5": 1.0}  # only in one run: not compared
    result = paired(now, before)
    assert result["questions"] == 30
    recall = result["metrics"]["recall@5"]
    assert recall["n"] == 30 and recall["better"] == 20 and recall["worse"] == 0
    assert recall["difference"] == pytest.approx(20 / 30) and recall["ci95"][0] > 0
    # fewer false refusals is better, although the number went down
    refusals = result["metrics"]["false_refusal_rate"]
    assert refusals["better"] == 30 and refusals["worse"] == 0 and refusals["difference"] == -1.0
    # the same run against itself: no change, an interval of exactly zero
    same = paired(before, before)["metrics"]["recall@5"]
    assert same["difference"] == 0.0 and same["ci95"] == [0.0, 0.0] and same["better"] == same["worse"] == 0


def test_read_previous_takes_a_results_folder_and_explains_what_it_cannot_read(tmp_path: Path) -> None:
    rows = [{"id": "q1", "ours": {"metrics": {"recall@5": 1.0}}}, {"id": "q2", "ours": {"metrics": {}}}]
    (tmp_path / "questions.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    assert read_previous(tmp_path) == {"q1": {"recall@5": 1.0}, "q2": {}}
    assert read_previous(tmp_path / "questions.jsonl") == read_previous(tmp_path)
    with pytest.raises(EvalError, match="no questions.jsonl"):
        read_previous(tmp_path / "missing")
    old = tmp_path / "old"
    old.mkdir()
    (old / "questions.jsonl").write_text(json.dumps({"id": "q1", "ours": {"ranks": [1]}}) + "\n", encoding="utf-8")
    with pytest.raises(EvalError, match="line 1 has no per-question metrics"):
        read_previous(old)
