"""The evaluation harness and the benchmark: pure metric functions on hand-made cases, then `clausewise eval`
and `clausewise bench` end to end on a tiny gold set over the bundled corpus (real model, real Chroma)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clausewise.cli import main
from rag.goldsets import detect_format, locate, match_file, not_stated_vendors, sample
from rag.metrics import (
    Span,
    budget_hits,
    citation_precision,
    evidence_coverage,
    false_refusal_rate,
    hit_ranks,
    interleave,
    percentile,
    recall_at_k,
    reciprocal_rank,
    refusal_accuracy,
    vendor_correct,
)

# ---- hand-made cases --------------------------------------------------------------------------------------

POLICY = (
    "1. Data we collect. We collect your name and email address when you sign up.\n"
    "2. Retention. We keep account data for 30 days after you close your account.\n"
    "3. Sharing. We never sell personal data.\n"
    "4. Contact. Write to privacy@example.com.\n"
)


def chunk_of(text: str, source: str = "acme.txt") -> Span:
    start = POLICY.index(text)
    return Span(source, start, start + len(text), POLICY[start : start + len(text)])


C1 = chunk_of("1. Data we collect. We collect your name and email address when you sign up.")
C2 = chunk_of("2. Retention. We keep account data for 30 days after you close your account.")
C3 = chunk_of("3. Sharing. We never sell personal data.")
C4 = chunk_of("4. Contact. Write to privacy@example.com.")
GOLD_RETENTION = chunk_of("We keep account data for 30 days")
GOLD_SELL = chunk_of("We never sell personal data.")
GOLD_CONTACT = chunk_of("privacy@example.com")


def test_recall_at_k_and_mrr_on_a_known_hit_and_a_known_miss() -> None:
    # the hit: the retention clause is ranked 2nd
    hit = hit_ranks([C1, C2, C3], [[GOLD_RETENTION]])
    assert hit == [2]
    assert [recall_at_k(hit, k) for k in (1, 3, 5, 10)] == [0.0, 1.0, 1.0, 1.0]
    assert reciprocal_rank(hit) == 0.5
    # the miss: the contact clause is not retrieved at all
    miss = hit_ranks([C1, C2, C3], [[GOLD_CONTACT]])
    assert miss == [None]
    assert recall_at_k(miss, 10) == 0.0 and reciprocal_rank(miss) == 0.0
    # two pieces of evidence, one found at rank 3: half the evidence is recalled at k >= 3, MRR counts the first hit
    both = hit_ranks([C4, C1, C3], [[GOLD_RETENTION], [GOLD_SELL]])
    assert both == [None, 3]
    assert recall_at_k(both, 1) == 0.0 and recall_at_k(both, 3) == 0.5 and reciprocal_rank(both) == pytest.approx(1 / 3)
    # an unanswerable question has no evidence: it does not count in recall / MRR
    assert recall_at_k([], 5) is None and reciprocal_rank([]) is None
    # alternatives (PolicyQA: other answer spans of the same question): any one of them counts
    assert hit_ranks([C3], [[GOLD_RETENTION, GOLD_SELL]]) == [1]
    # another file with the same words is not a hit
    assert hit_ranks([Span("other.txt", C2.start, C2.end, C2.text)], [[GOLD_RETENTION]]) == [None]


def test_a_quote_over_two_adjacent_chunks_is_held_by_both_together() -> None:
    across = chunk_of("close your account.\n3. Sharing.")
    assert hit_ranks([C2, C1, C3], [[across]]) == [3]
    assert hit_ranks([C2], [[across]]) == [None]


def test_recall_at_2000_characters_keeps_only_the_first_2000_characters() -> None:
    big = "x" * 1990 + " " + POLICY  # a long unit pushes the policy text past the budget
    ranked_text_only = [Span("acme.txt", -1, -1, big)]
    assert budget_hits(ranked_text_only, [[Span("acme.txt", -1, -1, "1. Data")]], 2000) == [True]  # chars 1992..1998
    assert budget_hits(ranked_text_only, [[Span("acme.txt", -1, -1, "privacy@example.com")]], 2000) == [False]
    # by offsets: the 1st chunk uses most of a small budget, the gold in the 2nd chunk falls past it
    budget = len(C1.text) + 10
    assert budget_hits([C1, C2], [[GOLD_RETENTION]], budget) == [False]
    assert budget_hits([C1, C2], [[GOLD_RETENTION]], budget + 40) == [True]
    assert budget_hits([C2, C1], [[GOLD_RETENTION]], 2000) == [True]
    # whitespace is normalised before counting
    spaced = Span("s.txt", -1, -1, "a" + " " * 50 + "needle")
    assert budget_hits([spaced], [[Span("s.txt", -1, -1, "needle")]], 8) == [True]


def test_refusal_accuracy_and_false_refusals() -> None:
    cases = [(True, False), (True, True), (False, True), (False, False), (False, True)]  # (answerable, refused)
    assert refusal_accuracy(cases) == pytest.approx(2 / 3)
    assert false_refusal_rate(cases) == 0.5
    assert refusal_accuracy([(True, False)]) is None


def test_citation_precision_and_evidence_coverage() -> None:
    citations = [C2, C4]  # the retention clause (right) and the contact clause (not gold)
    groups = [[GOLD_RETENTION], [GOLD_SELL]]
    assert citation_precision(citations, groups) == 0.5
    assert evidence_coverage(citations, groups) == 0.5
    assert citation_precision([], groups) is None
    assert evidence_coverage([C2, C3], groups) == 1.0


def test_small_helpers() -> None:
    assert interleave([[1, 2, 3], ["a"], [10, 20]]) == [1, "a", 10, 2, 20, 3]
    assert vendor_correct(["Acme", "Acme"], ["Acme"]) is True
    assert vendor_correct(["Acme", "Other"], ["Acme"]) is False
    assert vendor_correct([], []) is None
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([5], 95) == 5
    assert locate("We  keep\nit.", "We keep it.") == (0, 12)
    files = [Path("000_kim_cc_privacy_policy.txt"), Path("002_kipsu_privacy_policy.txt")]
    assert match_file("002_5b256347b8b59ae5.txt", files) == files[1]
    assert match_file("009_x.txt", files) is None
    row = {"vendors": ["A", "B", "C"], "answer": "A: 13. B: not stated - no section.", "evidence": [{"file": "a.txt"}, {"file": "b.txt"}]}
    assert not_stated_vendors(row, {"a.txt": "A", "b.txt": "B"}) == {"B", "C"}
    assert detect_format([{"question": "q", "evidence": []}]) == "seed"
    assert detect_format([{"policy": "x.com", "question": "q", "answers": []}]) == "policyqa"
    rows = [{"i": i} for i in range(50)]
    picked = sample(rows, 10, seed=0)
    assert len(picked) == 10 and picked == sample(rows, 10, seed=0) and picked == sorted(picked, key=lambda r: r["i"])


# ---- end to end -----------------------------------------------------------------------------------------

KIM_ACCOUNT = (
    "Account Information: When you create an Account, you provide us with Personal Information such as your name, "
    "email address, password, and possibly other details like your address or preferences."
)
KIM_DNT = "we do not monitor or take action with respect to \"Do Not Track\" signals."

TINY = [
    # a known hit: the account clause of kim.cc (evidence named like the original corpus files: matched by prefix)
    {"id": "hit", "type": "single", "question": "What personal information does kim.cc collect when you create an account?",
     "vendors": ["kim.cc"], "answer": "name, email, password", "evidence": [{"file": "000_eed4d4e59d3ddcdc.txt", "quote": KIM_ACCOUNT}]},
    # a known miss for ours: the question names Kipsu, so ours searches Kipsu's policy only, but the gold is kim.cc's
    {"id": "miss", "type": "single", "question": "Does Kipsu honor Do Not Track browser signals?",
     "vendors": ["Kipsu"], "answer": "(deliberately wrong gold)", "evidence": [{"file": "000_kim_cc_privacy_policy.txt", "quote": KIM_DNT}]},
    {"id": "unanswerable", "type": "unanswerable", "question": "What is the name of Kipsu's Data Protection Officer?",
     "vendors": ["Kipsu"], "answer": "Not stated.", "evidence": []},
]

EXPECTED_KEYS = {"recall@1", "recall@3", "recall@5", "recall@10", "recall@2000c", "mrr", "vendor_accuracy", "chars_per_clause"}
ANSWER_KEYS = {"citation_precision", "evidence_coverage", "refusal_accuracy", "false_refusal_rate", "latency_ms",
               "weak_match_share", "citation_precision_weak_match", "citation_precision_other_answers"}


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    """The real `clausewise` entry point, in this process (it shares the already loaded models: fast)."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_runs_end_to_end_and_prints_ours_and_baseline(
    tmp_path: Path, ingested_store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = tmp_path / "tiny.jsonl"
    dataset.write_text("\n".join(json.dumps(r) for r in TINY) + "\n", encoding="utf-8")
    results = tmp_path / "results"
    user_store = tmp_path / "user-store"
    monkeypatch.setenv("CLAUSEWISE_DATA_DIR", str(user_store))

    code, out, err = run_cli(capsys, "eval", "--dataset", dataset, "--results", results, "--json",
                             "--vector-cache", ingested_store.settings.cache_path)

    assert code == 0, err[-3000:]
    summary = json.loads(out)
    assert set(summary["ours"]) >= EXPECTED_KEYS | ANSWER_KEYS
    assert set(summary["baseline"]) >= EXPECTED_KEYS
    assert not ANSWER_KEYS & set(summary["baseline"])  # answer metrics are for ours only
    ours = summary["ours"]
    assert ours["questions"] == 3 and ours["questions_with_evidence"] == 2
    assert ours["recall@10"] == 0.5  # the hit is found, the miss cannot be
    # single-vendor questions: each vendor's own five are the ranking's five
    assert ours["recall@5 per vendor"] == ours["recall@5"] and summary["baseline"]["recall@5 per vendor"] is None
    assert ours["vendor_accuracy"] == 1.0  # kim.cc and Kipsu are detected from the questions
    assert ours["refusal_accuracy"] in (0.0, 1.0)
    assert ours["weak_match_share"] is None or 0.0 <= ours["weak_match_share"] <= 1.0
    assert set(ours["per_type"]) == {"single", "unanswerable"}
    assert set(ours["per_language"]) == set(summary["baseline"]["per_language"]) == {"en"}
    assert ours["per_language"]["en"]["questions"] == 3
    per_question = {json.loads(line)["id"]: json.loads(line) for line in (results / "questions.jsonl").read_text().splitlines()}
    assert per_question["miss"]["ours"]["ranks"] == [None]
    assert per_question["hit"]["ours"]["ranks"][0] is not None
    for name in ("report.md", "eval.json", "recall_at_k.png", "per_type.png"):
        assert (results / name).is_file(), name
    report = (results / "report.md").read_text(encoding="utf-8")
    assert "| recall@5 |" in report and "## Per question language" in report and "| weak_match_share |" in report
    # per question type: the answer metrics too, as per language ("unanswerable": refusal accuracy, no recall)
    unanswerable_row = next(line for line in report.splitlines() if line.startswith("| unanswerable |"))
    assert unanswerable_row.split("|")[9].strip() == f"{ours['per_type']['unanswerable']['refusal_accuracy']:.3f}"
    # the headline metrics carry a 95 % bootstrap interval that holds the figure itself
    for system in ("ours", "baseline"):
        low, high = summary[system]["ci95"]["recall@5"]
        assert low <= summary[system]["recall@5"] <= high
    assert "| ours 95 % interval |" in report
    # the indexes live under the results dir; the user's store was never created
    assert any((results / "index").glob("*/ours/chroma")) and any((results / "index").glob("*/baseline/chroma"))
    assert not user_store.exists()

    # the same code again, against the first run: every question is paired, nothing changed
    before = tmp_path / "before"
    before.mkdir()
    (before / "questions.jsonl").write_bytes((results / "questions.jsonl").read_bytes())
    code, out, err = run_cli(capsys, "eval", "--dataset", dataset, "--results", results, "--json", "--against", before)
    assert code == 0, err[-3000:]
    against = json.loads(out)["against"]
    assert against["questions"] == 3
    recall = ours["recall@5"]
    assert against["metrics"]["recall@5"] == {"n": 2, "before": recall, "now": recall, "difference": 0.0, "ci95": [0.0, 0.0],
                                              "better": 0, "worse": 0}
    assert "## Against an earlier run" in (results / "report.md").read_text(encoding="utf-8")
    # a wrong --against path is refused before anything is measured
    code, out, err = run_cli(capsys, "eval", "--dataset", dataset, "--results", results, "--against", tmp_path / "nowhere")
    assert code == 1 and "--against: no questions.jsonl" in err and not out


def test_bench_writes_its_json(tmp_path: Path, ingested_store, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "bench"
    code, printed, err = run_cli(capsys, "bench", "--scales", "bundled", "--synthetic-sizes", "500", "--queries", "2",
                             "--embed-sample", "16", "--vector-cache", ingested_store.settings.cache_path, "--results", results, "--json")

    assert code == 0, err[-3000:]
    out = json.loads((results / "bench.json").read_text(encoding="utf-8"))
    assert [s["scale"] for s in out["scales"]] == ["bundled", "synthetic-500"]
    assert out["scales"][1]["chunks"] == 500
    # the synthetic store has the multilingual index too, so its latency is that of the default retrieval path
    assert out["scales"][1]["build"]["multilingual_chunks"] == 500
    assert out["bundled_ingest"]["chunks"] == ingested_store.report.chunks
    for scale in out["scales"]:
        for key in ("ours_retrieve_vendor_ms", "baseline_retrieve_vendor_ms", "extractive_answer_ms", "end_to_end_ms"):
            assert scale["latency"][key]["n"] == 2 and scale["latency"][key]["p50"] > 0
    assert out["embedding"]["texts_per_s"] > 0 and out["peak_rss_mb"] > 0
    assert (results / "bench.md").is_file() and (results / "latency_vs_size.png").is_file()
    assert json.loads(printed)["scales"][0]["scale"] == "bundled"
