"""`clausewise eval` outputs: report.md, eval.json, questions.jsonl, charts and the terminal summary."""

from __future__ import annotations

import json
from pathlib import Path

from rag.metrics import CHAR_BUDGET, K_VALUES, recall_at_k


def _fmt(value, pct: bool = True) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and pct:
        return f"{value:.3f}"
    if isinstance(value, float):
        return f"{value:.0f}"
    return str(value)


RETRIEVAL_ROWS = [*(f"recall@{k}" for k in K_VALUES), "recall@5 per vendor", "mrr", f"recall@{CHAR_BUDGET}c", "chars_per_clause", "vendor_accuracy"]
ANSWER_ROWS = ["citation_precision", "evidence_coverage", "refusal_accuracy", "false_refusal_rate",
               "compare_not_stated_accuracy", "weak_match_share", "citation_precision_weak_match",
               "citation_precision_other_answers", "chars_per_citation"]


def _bounds(bounds: list[float] | None, signed: bool = False) -> str:
    """A 95 % interval as "[low, high]" (with signs for a difference), or "–" where there is none."""
    if not bounds:
        return "–"
    fmt = "{:+.3f}" if signed else "{:.3f}"
    return f"[{fmt.format(bounds[0])}, {fmt.format(bounds[1])}]"


def _ci(summary: dict, key: str) -> str:
    """A metric's 95 % interval in a summary (Wilson or bootstrap, rag/uncertainty.interval), or "–" where it has none."""
    return _bounds(summary.get("ci95", {}).get(key))


def against_lines(against: dict) -> list[str]:
    """The paired comparison with an earlier run (rag/uncertainty.paired) as a markdown section."""
    lines = ["", f"## Against an earlier run ({against['run']})", "",
             f"Same question ids in both runs: {against['questions']}. Difference = now − before, averaged over the "
             "questions both runs count the metric in; a 95 % interval that contains 0 is not a measured change.", "",
             "| metric | n | before | now | difference | 95 % interval | better | worse |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key, m in against["metrics"].items():
        lines.append(f"| {key} | {m['n']} | {m['before']:.3f} | {m['now']:.3f} | {m['difference']:+.3f} | {_bounds(m['ci95'], True)} "
                     f"| {m['better']} | {m['worse']} |")
    return lines


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
        "| metric | ours | ours 95 % interval | baseline | baseline 95 % interval |" + (" baseline, vendor-filtered |" if oracle else ""),
        "|---|---:|---:|---:|---:|" + ("---:|" if oracle else ""),
    ]
    for key in RETRIEVAL_ROWS:
        pct = key != "chars_per_clause"
        row = f"| {key} | {_fmt(ours.get(key), pct)} | {_ci(ours, key)} | {_fmt(base.get(key), pct)} | {_ci(base, key)} |"
        lines.append(row + (f" {_fmt(oracle.get(key), pct)} |" if oracle else ""))
    lines.append(f"| search ms p50 / p95 | {_fmt(ours['search_ms']['p50'], False)} / {_fmt(ours['search_ms']['p95'], False)} "
                 f"| | {_fmt(base['search_ms']['p50'], False)} / {_fmt(base['search_ms']['p95'], False)} | |" + (" |" if oracle else ""))
    if ours.get("vendor_detection_accuracy") is not None:
        lines.append(f"| vendor detection (exact set) | {_fmt(ours['vendor_detection_accuracy'])} | | n/a | |" + (" |" if oracle else ""))
    lines += ["", "## Answers (ours only)", "", "| metric | ours | 95 % interval |", "|---|---:|---:|"]
    for key in ANSWER_ROWS:
        lines.append(f"| {key} | {_fmt(ours.get(key), key != 'chars_per_citation')} | {_ci(ours, key)} |")
    if full.get("against"):
        lines += against_lines(full["against"])
    lines += ["", "| stage | p50 ms | p95 ms | n |", "|---|---:|---:|---:|"]
    for stage, v in ours.get("latency_ms", {}).items():
        lines.append(f"| {stage} | {_fmt(v['p50'], False)} | {_fmt(v['p95'], False)} | {v['n']} |")
    lines += ["", "## Per question type", "", "| type | n | ours R@5 | baseline R@5 | ours R@2000c | baseline R@2000c | ours MRR | "
              "baseline MRR | ours refusal acc. | ours false refusals | ours citation precision |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for t, o in ours["per_type"].items():
        b = base["per_type"][t]
        lines.append(f"| {t} | {o['questions']} | {_fmt(o['recall@5'])} | {_fmt(b['recall@5'])} | {_fmt(o['recall@2000c'])} "
                     f"| {_fmt(b['recall@2000c'])} | {_fmt(o['mrr'])} | {_fmt(b['mrr'])} | {_fmt(o.get('refusal_accuracy'))} "
                     f"| {_fmt(o.get('false_refusal_rate'))} | {_fmt(o.get('citation_precision'))} |")
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
        "- 95 % interval, over questions, of the metrics that are a mean over questions: Wilson score for yes/no values "
        "(refusals), percentile bootstrap (2,000 resamples, fixed seed) for graded ones; on a few dozen questions one "
        "question moves a recall by several points, so read a change against the interval (or run with `--against` an "
        "earlier run's questions.jsonl for the paired difference).",
        "- weak_match_share: answered single-vendor questions (with gold) flagged \"weak match\" (less than 0.1 above the "
        "refusal threshold); citation_precision_weak_match / _other_answers: citation precision of those and of the rest.",
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
    if summary.get("against"):
        lines.append(f"against {summary['against']['run']} ({summary['against']['questions']} shared questions): now − before [95 %]")
        for key, m in summary["against"]["metrics"].items():
            lines.append(f"  {key:26} {m['difference']:+.3f} {_bounds(m['ci95'], True)}  ({m['better']} better, {m['worse']} worse)")
    lines.append(f"report: {Path(meta['results_dir']) / 'report.md'}")
    return "\n".join(lines)
