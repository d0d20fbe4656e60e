"""`clausewise calibrate`: fit the refusal decision (rag/answerability.py) with cross-validation over every gold set.

Cases are (question, vendor) decisions: should the answer quote the policy, or say it does not say?

* seed    — tests/fixtures/seed_dev.jsonl over the bundled corpus (single, paraphrase, multilingual, compare rows,
            unanswerable);
* written — tests/fixtures/written_questions.jsonl: questions written for this project against the bundled corpus,
            many of them unanswerable (attribute absent, another vendor's practice, out of scope, false premise);
* policyqa — PolicyQA dev (../shared/eval/policyqa), every question answerable; its policies are split into TUNING
            policies and HELD-APART policies that calibration never sees (reported separately);
* fresh   — tests/fixtures/fresh_questions.jsonl: more questions of the written kinds, only ever reported (held apart);
* multilingual — tests/fixtures/multilingual_questions.jsonl: 40 answerable questions in German, French, Spanish and
            Chinese about the English policies, multilingual_unanswerable (30 the policies do not answer, in the
            same languages) and multilingual_seed (tests/fixtures/multilingual.jsonl: seed questions translated, 40
            answerable, 20 not): folded like seed and written; they fit the threshold across languages;
* multilingual_unanswerable_2 (18 more, translated from fresh's) and multilingual_pt_it_nl (30 answerable, in
            Portuguese, Italian, Dutch): only ever reported (held apart).

Folds: seed and written questions by a hash of their id (a compare question's rows stay together), PolicyQA tuning
policies round-robin by policy. Each fold is scored by a model fitted on the other folds (weights AND threshold), so
the reported figures are on data the decision was not tuned on. The shipped model is then fitted on all folds.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import clausewise.offline  # noqa: F401  (before any ML import)
from clausewise.settings import PROJECT_ROOT
from rag.evaluate import build_ours, engine_source
from rag.goldsets import corpus_key, load_policyqa, load_seed, read_jsonl
from rag.metrics import Span, citation_precision, mean
from rag.uncertainty import interval

FOLDS = 5
SEED_SETS = {
    "seed": PROJECT_ROOT / "tests" / "fixtures" / "seed_dev.jsonl",
    "written": PROJECT_ROOT / "tests" / "fixtures" / "written_questions.jsonl",
    # questions in German, French, Spanish and Chinese about the English policies (tenth round: folded like the
    # others, so the threshold across languages is fitted and scored out of fold): 40 answerable, and 30 the policy
    # does not answer (translations of fresh_questions_2's unanswerable questions)
    "multilingual": PROJECT_ROOT / "tests" / "fixtures" / "multilingual_questions.jsonl",
    "multilingual_unanswerable": PROJECT_ROOT / "tests" / "fixtures" / "multilingual_unanswerable.jsonl",
    # the seed set's questions translated (answerable and not), and their English originals
    "multilingual_seed": PROJECT_ROOT / "tests" / "fixtures" / "multilingual.jsonl",
}
# Gold sets in the same format that calibration only reports, never fits on (every case held apart): both were written
# after the decision's signals were chosen, by helpers who read only the policies, never the system.
HELD_APART_SETS = {
    "fresh": PROJECT_ROOT / "tests" / "fixtures" / "fresh_questions.jsonl",
    "fresh_2": PROJECT_ROOT / "tests" / "fixtures" / "fresh_questions_2.jsonl",  # eighth round, g001-g060
    "compare": PROJECT_ROOT / "tests" / "fixtures" / "compare_questions.jsonl",  # eighth round: 63 compare rows
    # twelfth round: 109 more (62 answerable, 47 not), written by three helpers who read only the policies and were
    # asked for a user's wording rather than the policy's ("how long do they hang on to my data?"); 11 that repeated
    # a tuning question or each other were dropped (found by embedding similarity, 0.95 and up). Their errors have been
    # read since (twelfth to fourteenth rounds): no longer clean evidence; as tuning data they cost the seed set's
    # comparisons (docs/evaluation.md, fourteenth round)
    "written_2": PROJECT_ROOT / "tests" / "fixtures" / "written_questions_2.jsonl",
    # twelfth round: 105 more of the same kind by three other helpers, committed before first scored (15 repeating an
    # earlier set's question dropped); written after the analysis of written_2's errors, so untouched by it
    "written_3": PROJECT_ROOT / "tests" / "fixtures" / "written_questions_3.jsonl",
    # fourteenth round: 80 more (44 answerable, 36 not) by two helpers who read only the policies (za / zb), committed
    # before first scored; written after the synonym groups of that round were drafted, so untouched by them
    "written_4": PROJECT_ROOT / "tests" / "fixtures" / "written_questions_4.jsonl",
    "multilingual_unanswerable_2": PROJECT_ROOT / "tests" / "fixtures" / "multilingual_unanswerable_2.jsonl",  # 18
    # translations of fresh_questions' unanswerable questions
    "multilingual_pt_it_nl": PROJECT_ROOT / "tests" / "fixtures" / "multilingual_questions_pt_it_nl.jsonl",
}
# Tuning sets asked (almost) only across languages: they fit the threshold across languages, not the model's weights
# or its main threshold (which they would pull with a handful of same-language cases weighing as a whole gold set).
THRESHOLD_ONLY_SETS = frozenset({"multilingual", "multilingual_unanswerable", "multilingual_seed"})
MAX_FALSE_REFUSALS_ACROSS_LANGUAGES = 0.1  # issue #10's bar for false refusals
POLICYQA_DIR = PROJECT_ROOT.parent / "shared" / "eval" / "policyqa"
HELD_APART_POLICIES = 3  # PolicyQA dev policies never used for tuning (picked with a fixed seed)
SPLIT_SEED = 20261202


@dataclass
class Case:
    """One refusal decision, with what answering would have cited."""

    source: str
    question_id: str
    vendor: str
    kind: str
    answerable: bool
    signals: list[float]
    value_missing: bool  # refused by the asked-value rule whatever the model says
    cited: list[list] = field(default_factory=list)  # [file, start, end] per citation if answered
    gold: list[list[list]] = field(default_factory=list)  # groups of [file, start, end]
    compare_row: bool = False
    fold: int = -1  # -1: held apart
    across_languages: bool = False  # the question's language is not that of the evidence (the multilingual model)


def split_policyqa(policies: list[str]) -> tuple[list[str], list[str]]:
    """(tuning, held apart) PolicyQA policies: a fixed seeded pick, never changed by calibration results."""
    ordered = sorted(policies)
    held = sorted(random.Random(SPLIT_SEED).sample(ordered, HELD_APART_POLICIES))
    return [p for p in ordered if p not in held], held


def held_apart_sample(rows: list[dict], size: int) -> list[dict]:
    """The fixed seeded sample of PolicyQA rows from the held-apart policies that calibration and tests report."""
    _, held = split_policyqa(sorted({r["policy"] for r in rows}))
    held_rows = [r for r in rows if r["policy"] in held]
    return random.Random(SPLIT_SEED).sample(held_rows, min(size, len(held_rows)))


def _fold_of(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % FOLDS


# ==== collecting cases ===================================================================================


def _engine_for(corpus, results: Path, progress: bool):
    from clausewise.settings import Settings, load_settings
    from rag.answerability import AnswerabilityModel
    from rag.api import Engine

    user = load_settings()
    key = corpus_key(corpus, user.embedding_model, [user.chunk_min_words, user.chunk_max_words])
    settings = Settings(data_dir=results / "index" / key, chroma_url=None, backend="extractive")
    build_ours(settings, corpus, progress)
    engine = Engine(settings, answerability=AnswerabilityModel.neutral())  # signals do not depend on the weights
    engine.documents()  # loads the store's views (texts, idf) that answering reads
    return engine


def _cases_for(engine, item, source: str, kind: str, fold: int) -> list[Case]:
    from rag.answerability import missing_value
    from rag.api import cited_spans

    cases = []
    vendors = item.vendors if item.is_compare else item.vendors[:1]
    for vendor in vendors:
        query = engine._query_for(item.question, [vendor])[0]
        found = engine.evidence(query, vendor, engine.retriever.search(query, [vendor]))
        if found.signals is None:
            continue
        value_missing = missing_value(query, found.signals) is not None or bool(found.unsupported)
        cited = [[engine_source(engine, i.chunk.doc_id), a, b] for i, a, b in cited_spans(found.picked)]
        answerable = vendor not in item.not_stated if item.is_compare else item.answerable
        cases.append(Case(source, item.id, vendor, kind, answerable, found.signals.vector(), value_missing, cited,
                          [[[g.source, g.start, g.end] for g in group] for group in item.groups], item.is_compare, fold,
                          found.across_languages))
    return cases


def collect(results: Path, policyqa_dir: Path | None, per_policy: int, held_sample: int, progress: bool = True) -> list[Case]:
    """Run every gold question's retrieval and sentence choice once and record the decision's signals."""
    from tqdm import tqdm

    from clausewise.settings import load_settings

    cases: list[Case] = []
    user = load_settings()
    held_sets = {source: path for source, path in HELD_APART_SETS.items() if path.is_file()}
    for source, path in {**SEED_SETS, **held_sets}.items():
        rows = read_jsonl(path)
        items, corpus, _ = load_seed(rows, user.corpus_dir, user.manifest)
        engine = _engine_for(corpus, results, progress)
        kinds = {str(r.get("id")): r.get("kind") or r.get("type", "single") for r in rows}
        for item in tqdm(items, desc=f"calibrate: {source}", unit="q", disable=not progress):
            fold = -1 if source in held_sets else _fold_of(f"{source}:{item.id}")
            cases.extend(_cases_for(engine, item, source, kinds[item.id], fold))
    if policyqa_dir is not None:
        rows = read_jsonl(policyqa_dir / "dev.jsonl")
        tuning, _ = split_policyqa(sorted({r["policy"] for r in rows}))
        _, corpus, _ = load_policyqa(rows, policyqa_dir / "policies")
        engine = _engine_for(corpus, results, progress)
        rng = random.Random(SPLIT_SEED)
        picked = []
        for fold_index, policy in enumerate(tuning):
            of_policy = [r for r in rows if r["policy"] == policy]
            picked += [(r, fold_index % FOLDS) for r in rng.sample(of_policy, min(per_policy, len(of_policy)))]
        picked += [(r, -1) for r in held_apart_sample(rows, held_sample)]
        items, _, _ = load_policyqa([r for r, _ in picked], policyqa_dir / "policies")
        for item, (_, fold) in tqdm(list(zip(items, picked, strict=True)), desc="calibrate: policyqa", unit="q",
                                    disable=not progress):
            cases.extend(_cases_for(engine, item, "policyqa" if fold >= 0 else "policyqa_held", item.type, fold))
    return cases


# ==== fitting and scoring =================================================================================


def _weights(cases: list[Case]) -> list[float]:
    """Each (source, label) cell weighs the same in total: no gold set or class dominates by its size."""
    cells: dict[tuple[str, bool], int] = {}
    for c in cases:
        cells[(c.source, c.answerable)] = cells.get((c.source, c.answerable), 0) + 1
    return [1.0 / cells[(c.source, c.answerable)] for c in cases]


def _balanced_score(cases: list[Case], answered: list[bool], pooled: bool = False) -> float:
    """Refusal accuracy on unanswerable cases plus (1 - false refusals) averaged over sources' answerable cases
    (`pooled`: over all answerable cases, one source)."""
    refused = [not a for c, a in zip(cases, answered, strict=True) if not c.answerable]
    per_source: dict[str, list[bool]] = {}
    for c, a in zip(cases, answered, strict=True):
        if c.answerable:
            per_source.setdefault("all" if pooled else c.source, []).append(a)
    answer_rate = mean(sum(v) / len(v) for v in per_source.values())
    return (sum(refused) / len(refused) if refused else 1.0) + (answer_rate if answer_rate is not None else 1.0)


def _best_threshold(cases: list[Case], probabilities: list[float], pooled: bool = False,
                    max_false_refusals: float | None = None) -> float:
    """The middle of the plateau of thresholds that best balance refusals on `cases`; with `max_false_refusals`, of
    those that refuse the most unanswerable cases while refusing at most that share of the answerable ones."""
    import numpy as np

    grid = [round(t, 3) for t in np.arange(0.05, 0.951, 0.01)]
    if max_false_refusals is not None:
        answerable = [p for c, p in zip(cases, probabilities, strict=True) if c.answerable]
        allowed = [t for t in grid if sum(p < t for p in answerable) <= max_false_refusals * len(answerable)]
        grid = allowed or grid[:1]
    scores = [_balanced_score(cases, [p >= t for p in probabilities], pooled) for t in grid]
    best = max(scores)
    plateau = [t for t, s in zip(grid, scores, strict=True) if s >= best - 1e-9]
    return plateau[len(plateau) // 2]


def fit(cases: list[Case], provenance: dict | None = None):
    """A logistic model on standardised signals and the threshold that best balances refusals, fitted on the gold
    sets' cases matched within one language (THRESHOLD_ONLY_SETS left out), then a second threshold on the cases
    matched across languages (their word signals read only the glossary's concepts, or nothing, and the similarities
    come from another model)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from rag.answerability import AnswerabilityModel

    main = [c for c in cases if c.source not in THRESHOLD_ONLY_SETS and not c.across_languages]
    usable = [c for c in main if not c.value_missing]
    x = np.array([c.signals for c in usable], dtype=float)
    y = np.array([c.answerable for c in usable], dtype=int)
    mu, sd = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    sd[sd < 1e-6] = 1.0
    x = np.where(np.isnan(x), mu, x)  # an undefined signal (across languages) takes the mean, as when answering
    clf = LogisticRegression(C=1.0, max_iter=1000)
    clf.fit((x - mu) / sd, y, sample_weight=np.array(_weights(usable)))
    model = AnswerabilityModel(tuple(float(w) for w in clf.coef_[0]), float(clf.intercept_[0]), tuple(map(float, mu)),
                               tuple(map(float, sd)), 0.5, provenance or {})
    threshold = _best_threshold(main, [_probability(model, c) for c in main])
    # across languages the answerable cases are pooled (nearly all come from one set, and a per-set average would let
    # the few English questions matched across languages weigh as much as all of them), and the threshold refuses at
    # most MAX_FALSE_REFUSALS_ACROSS_LANGUAGES of them: where only similarities speak, the balance alone would buy
    # refusals with answers the policy does give (docs/evaluation.md, tenth round)
    across = [c for c in cases if c.across_languages]
    both_kinds = {c.answerable for c in across} == {True, False}
    across_threshold = (_best_threshold(across, [_probability(model, c) for c in across], pooled=True,
                                        max_false_refusals=MAX_FALSE_REFUSALS_ACROSS_LANGUAGES) if both_kinds else None)
    return replace(model, threshold=threshold, threshold_across_languages=across_threshold)


def _probability(model, case: Case) -> float:
    from rag.answerability import Signals

    return 0.0 if case.value_missing else model.probability(Signals(*case.signals))


def score(model, cases: list[Case]) -> dict:
    """Refusal accuracy, false refusals, citation precision and compare rows for `model` on `cases`."""
    answered = [_probability(model, c) >= model.threshold_for(c.across_languages) for c in cases]
    out: dict = {"cases": len(cases)}
    singles = [(c, a) for c, a in zip(cases, answered, strict=True) if not c.compare_row]
    rows = [(c, a) for c, a in zip(cases, answered, strict=True) if c.compare_row]
    unanswerable = [a for c, a in singles if not c.answerable]
    answerable = [a for c, a in singles if c.answerable]
    out["unanswerable"] = len(unanswerable)
    out["answerable"] = len(answerable)
    out["refusal_accuracy"] = sum(not a for a in unanswerable) / len(unanswerable) if unanswerable else None
    out["false_refusals"] = sum(not a for a in answerable) / len(answerable) if answerable else None
    out["citation_precision"] = mean(
        citation_precision([Span(*s) for s in c.cited], [[Span(*g) for g in group] for group in c.gold])
        for c, a in zip(cases, answered, strict=True) if a and c.answerable and c.gold
    )
    out["compare_rows"] = len(rows)
    out["compare_row_accuracy"] = sum(a == c.answerable for c, a in rows) / len(rows) if rows else None
    # 95 % (Wilson) intervals of the yes/no rates: on 30 questions 20 refused is [0.49, 0.81]
    out["ci95"] = {key: interval([float(x) for x in values]) for key, values in (
        ("refusal_accuracy", [not a for a in unanswerable]), ("false_refusals", [not a for a in answerable]),
        ("compare_row_accuracy", [a == c.answerable for c, a in rows]))}
    return out


def _by_source(model, cases: list[Case]) -> dict[str, dict]:
    """`score` of `model` on each gold set's cases, by set name."""
    return {source: score(model, [c for c in cases if c.source == source]) for source in sorted({c.source for c in cases})}


def cross_validate(cases: list[Case]) -> list[dict]:
    """Per fold: the model fitted on the other folds, scored on this one, per source."""
    tuned = [c for c in cases if c.fold >= 0]
    report = []
    for fold in range(FOLDS):
        train = [c for c in tuned if c.fold != fold]
        test = [c for c in tuned if c.fold == fold]
        model = fit(train)
        report.append({"fold": fold, "threshold": model.threshold,
                       "threshold_across_languages": model.threshold_across_languages,
                       "by_source": _by_source(model, test)})
    return report


def _refolded(case: Case) -> Case:
    """A cached case with the fold its set has now: a gold set moved between tuning and held apart since the cases were
    collected is folded (or held apart) as if collected now. PolicyQA's cases keep theirs (folded by policy)."""
    if case.source in SEED_SETS and case.fold < 0:
        return replace(case, fold=_fold_of(f"{case.source}:{case.question_id}"))
    if case.source in HELD_APART_SETS and case.fold >= 0:
        return replace(case, fold=-1)
    return case


def run_calibration(results: Path, policyqa_dir: Path | None, per_policy: int = 40, held_sample: int = 100,
                    write: Path | None = None, reuse_cases: bool = False, progress: bool = True) -> dict:
    """Collect cases (kept in results/cases.jsonl), cross-validate, fit on all tuning folds, score held-apart data; and
    score the model in use (rag/answerability.json, before any --write) on every set as it stands, so a signal changed
    without a refit is measured with the decision users get."""
    from rag.answerability import load_model
    from rag.evaluate import code_state

    in_use = load_model()

    started = time.perf_counter()
    results.mkdir(parents=True, exist_ok=True)
    cache = results / "cases.jsonl"
    if reuse_cases and cache.is_file():
        cases = [_refolded(Case(**json.loads(line))) for line in cache.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        cases = collect(results, policyqa_dir, per_policy, held_sample, progress)
        with cache.open("w", encoding="utf-8") as out:
            for c in cases:
                out.write(json.dumps(asdict(c)) + "\n")
    folds = cross_validate(cases)
    sources = sorted({c.source for c in cases if c.fold >= 0})
    summary = {s: {k: mean(f["by_source"].get(s, {}).get(k) for f in folds)
                   for k in ("refusal_accuracy", "false_refusals", "citation_precision", "compare_row_accuracy")}
               for s in sources}
    provenance = {
        "fitted": time.strftime("%Y-%m-%d"),
        "code": code_state().get("commit"),
        "cases": {s: sum(1 for c in cases if c.source == s) for s in sorted({c.source for c in cases})},
        "folds": FOLDS,
        "policyqa_held_apart": split_policyqa(sorted({c.vendor for c in cases if c.source.startswith("policyqa")}))[1]
        if policyqa_dir else [],
        "cross_validated_mean": summary,
    }
    final = fit([c for c in cases if c.fold >= 0], provenance)
    held = _by_source(final, [c for c in cases if c.fold < 0])
    final.provenance["held_apart_scores"] = held
    current = _by_source(in_use, cases)
    if write is not None:
        Path(write).write_text(final.to_json(), encoding="utf-8")
    result = {"folds": folds, "cross_validated_mean": summary, "held_apart": held, "model": json.loads(final.to_json()),
              "in_use": {"threshold": in_use.threshold, "threshold_across_languages": in_use.threshold_across_languages,
                         "fitted": in_use.provenance.get("fitted"), "code": in_use.provenance.get("code"), "scores": current},
              "seconds": round(time.perf_counter() - started, 1)}
    (results / "calibration.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    (results / "report.md").write_text(markdown_report(result), encoding="utf-8")
    return result


METRICS = ("refusal_accuracy", "false_refusals", "citation_precision", "compare_row_accuracy")


def _cell(metrics: dict, key: str, with_interval: bool = False) -> str:
    value = metrics.get(key)
    count = {"refusal_accuracy": "unanswerable", "false_refusals": "answerable", "compare_row_accuracy": "compare_rows"}.get(key)
    if value is None:
        return "–"
    bounds = metrics.get("ci95", {}).get(key) if with_interval else None
    return f"{value:.2f}" + (f" ({metrics[count]})" if count else "") + (f" [{bounds[0]:.2f}, {bounds[1]:.2f}]" if bounds else "")


def _thresholds(model: dict) -> str:
    across = model.get("threshold_across_languages")
    return f"{model['threshold']:.2f}" + ("" if across is None else f" / {across:.2f}")


def markdown_report(result: dict) -> str:
    """Per-fold and mean figures (each fold scored by the model fitted on the other folds), then held-apart data."""
    lines = ["| fold | threshold (/ across languages) | source | refusal accuracy (n) | false refusals (n) | citation precision | compare rows right (n) |",
             "|---:|---:|---|---:|---:|---:|---:|"]
    for fold in result["folds"]:
        for source, metrics in fold["by_source"].items():
            lines.append(f"| {fold['fold']} | {_thresholds(fold)} | {source} | "
                         + " | ".join(_cell(metrics, k) for k in METRICS) + " |")
    for source, metrics in result["cross_validated_mean"].items():
        lines.append(f"| **mean** | | **{source}** | " + " | ".join("–" if metrics.get(k) is None else f"**{metrics[k]:.2f}**"
                                                              for k in METRICS) + " |")
    for source, held in result["held_apart"].items():
        lines.append(f"| held apart | {_thresholds(result['model'])} | {source} | "
                     + " | ".join(_cell(held, k, with_interval=True) for k in METRICS) + " |")
    # the model in use, not refitted (tuning sets in sample): what users get with today's signals
    for source, metrics in result["in_use"]["scores"].items():
        lines.append(f"| in use | {_thresholds(result['in_use'])} | {source} | "
                     + " | ".join(_cell(metrics, k, with_interval=True) for k in METRICS) + " |")
    return "\n".join(lines) + "\n"


def summary_text(result: dict) -> str:
    lines = ["cross-validated (folds not tuned on), mean over folds:"]
    for source, metrics in result["cross_validated_mean"].items():
        lines.append(f"  {source:10} " + "  ".join(f"{k}={v:.3f}" for k, v in metrics.items() if v is not None))
    for source, held in result["held_apart"].items():
        lines.append(f"held apart, never tuned on: {source:13} "
                     + "  ".join(f"{k}={v:.3f}" for k, v in held.items() if isinstance(v, float)))
    in_use = result["in_use"]
    lines.append(f"the model in use (fitted {in_use['fitted']}, not refitted; tuning sets in sample):")
    for source, metrics in in_use["scores"].items():
        lines.append(f"  {source:27} " + "  ".join(f"{k}={metrics[k]:.3f}" for k in METRICS if metrics.get(k) is not None))
    lines.append(f"refitted: threshold {result['model']['threshold']} (across languages "
                 f"{result['model'].get('threshold_across_languages')}); weights {dict(zip(result['model']['features'], [round(w, 2) for w in result['model']['weights']], strict=True))}")
    return "\n".join(lines)
