"""`clausewise calibrate`: the refusal model is fitted and scored on folds it was not fitted on, and the PolicyQA
policies held apart never reach the fit."""

from __future__ import annotations

import json
import random
from dataclasses import replace

from rag.answerability import FEATURES, AnswerabilityModel, Signals
from rag.calibrate import (
    FOLDS,
    HELD_APART_POLICIES,
    THRESHOLD_ONLY_SETS,
    Case,
    cross_validate,
    fit,
    score,
    split_policyqa,
)


def _case(answerable: bool, strength: float, source: str = "written", fold: int = 0, **extra) -> Case:
    """A decision whose signals all sit near `strength` (answerable cases high, unanswerable ones low)."""
    signals = [min(1.0, max(0.0, strength + random.uniform(-0.05, 0.05))) for _ in FEATURES]
    gold = [[["p.txt", 0, 50]]]
    cited = [["p.txt", 0, 40]] if answerable else [["p.txt", 100, 140]]
    return Case(source, f"q{random.random()}", "Acme", "k", answerable, signals, False, cited, gold, fold=fold, **extra)


def _cases(n: int = 20) -> list[Case]:
    random.seed(7)
    cases = []
    for i in range(n):
        cases.append(_case(True, 0.75, fold=i % FOLDS))
        cases.append(_case(False, 0.3, fold=i % FOLDS))
        cases.append(_case(True, 0.65, source="policyqa", fold=i % FOLDS))
    return cases


def test_a_fitted_model_separates_answerable_from_unanswerable_cases() -> None:
    cases = _cases()

    model = fit(cases)
    result = score(model, cases)

    assert result["refusal_accuracy"] == 1.0 and result["false_refusals"] == 0.0
    assert result["citation_precision"] == 1.0  # answered cases cite the gold span
    high = model.probability(Signals(*[0.8] * len(FEATURES)))
    low = model.probability(Signals(*[0.2] * len(FEATURES)))
    assert high > model.threshold > low


def test_an_undefined_signal_counts_as_its_mean_in_fitting_and_answering() -> None:
    cases = _cases()
    last = len(FEATURES) - 1
    for case in cases[::4]:  # some cases (questions across languages) cannot measure the last signal
        case.signals[last] = float("nan")

    model = fit(cases)
    undefined = Signals(*[0.6] * last, float("nan"))
    at_mean = Signals(*[0.6] * last, model.mean[last])

    assert all(w == w for w in model.weights) and model.mean[last] == model.mean[last], "nan leaked into the fit"
    assert abs(model.probability(undefined) - model.probability(at_mean)) < 1e-9
    assert score(model, cases)["refusal_accuracy"] == 1.0


def test_questions_matched_across_languages_get_a_threshold_of_their_own() -> None:
    random.seed(11)
    cases = _cases()
    # across languages every signal reads higher (another model's similarities): unanswerable ones sit where
    # answerable questions within one language do
    for i in range(20):
        cases.append(_case(True, 0.75, source="multilingual", fold=i % FOLDS, across_languages=True))
        cases.append(_case(False, 0.55, source="multilingual", fold=i % FOLDS, across_languages=True))

    model = fit(cases)
    within = score(model, [c for c in cases if not c.across_languages])
    across = score(model, [c for c in cases if c.across_languages])

    assert model.threshold_across_languages is not None and model.threshold_across_languages > model.threshold
    assert within["refusal_accuracy"] == 1.0 and within["false_refusals"] == 0.0
    assert across["refusal_accuracy"] == 1.0 and across["false_refusals"] == 0.0
    # one threshold for both would answer the unanswerable questions across languages
    assert score(replace(model, threshold_across_languages=None), [c for c in cases if c.across_languages])[
        "refusal_accuracy"] < 0.5
    # without questions of both kinds across languages there is nothing to fit: the one threshold serves
    assert fit([c for c in cases if c.answerable or not c.across_languages]).threshold_across_languages is None


def test_the_multilingual_tuning_sets_fit_only_the_threshold_across_languages() -> None:
    cases = _cases()
    without = fit(cases)
    random.seed(3)
    # a multilingual set's few same-language cases, however odd, leave the weights and the main threshold alone
    extra = [_case(False, 0.9, source=next(iter(THRESHOLD_ONLY_SETS)), fold=0) for _ in range(3)]

    assert (fit(cases + extra).weights, fit(cases + extra).threshold) == (without.weights, without.threshold)


def test_an_operators_threshold_moves_the_one_across_languages_by_as_much() -> None:
    model = replace(fit(_cases()), threshold=0.5, threshold_across_languages=0.7)

    stricter = model.at_threshold(0.6)

    assert (stricter.threshold, round(stricter.threshold_across_languages, 6)) == (0.6, 0.8)
    assert stricter.threshold_for(across_languages=True) == stricter.threshold_across_languages
    assert AnswerabilityModel.from_dict(json.loads(stricter.to_json())) == stricter
    older = {k: v for k, v in json.loads(model.to_json()).items() if k != "threshold_across_languages"}
    assert AnswerabilityModel.from_dict(older).threshold_for(across_languages=True) == 0.5  # weights of an earlier fit


def test_cross_validation_scores_every_fold_with_a_model_fitted_without_it() -> None:
    cases = _cases()

    folds = cross_validate(cases)

    assert [f["fold"] for f in folds] == list(range(FOLDS))
    for f in folds:
        assert set(f["by_source"]) == {"written", "policyqa"}
        assert f["by_source"]["written"]["cases"] == sum(1 for c in cases if c.fold == f["fold"] and c.source == "written")


def test_a_missing_asked_value_is_refused_whatever_the_signals() -> None:
    model = fit(_cases())
    strong_but_missing = _case(True, 0.9)
    strong_but_missing.value_missing = True

    assert score(model, [strong_but_missing])["false_refusals"] == 1.0


def test_the_held_apart_policyqa_policies_are_fixed_and_disjoint_from_tuning() -> None:
    policies = [f"site{i}.com" for i in range(12)]

    tuning, held = split_policyqa(policies)

    assert len(held) == HELD_APART_POLICIES and not set(tuning) & set(held)
    assert sorted(tuning + held) == sorted(policies)
    assert split_policyqa(list(reversed(policies))) == (tuning, held)


def test_weights_round_trip_through_json() -> None:
    model = fit(_cases(), provenance={"cases": 60})

    again = AnswerabilityModel.from_dict(__import__("json").loads(model.to_json()))

    assert again == model


def test_held_apart_rates_come_with_their_95_percent_interval() -> None:
    cases = _cases()
    model = fit(cases)
    scored = score(model, [c for c in cases if c.source == "written"])

    for key in ("refusal_accuracy", "false_refusals"):
        low, high = scored["ci95"][key]
        assert low <= scored[key] <= high and high - low > 0.05  # 20 questions a side leave real doubt
    assert scored["ci95"]["compare_row_accuracy"] is None  # no compare rows, no interval


def test_a_refit_from_recorded_cases_writes_a_model_that_answers_with_both_thresholds(tmp_path) -> None:
    """`clausewise calibrate --reuse-cases --write`: recorded signals in, a shipped-format model and a report out."""
    from dataclasses import asdict

    from rag.answerability import load_model
    from rag.calibrate import run_calibration

    random.seed(5)
    cases = _cases()
    for i in range(20):
        cases.append(_case(True, 0.75, source="multilingual", fold=i % FOLDS, across_languages=True))
        cases.append(_case(False, 0.55, source="multilingual_unanswerable", fold=i % FOLDS, across_languages=True))
    cases.append(_case(False, 0.2, source="fresh", fold=-1))  # held apart: scored, never fitted on
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(asdict(c)) + "\n" for c in cases), encoding="utf-8")

    result = run_calibration(tmp_path, None, write=tmp_path / "weights.json", reuse_cases=True, progress=False)

    model = load_model(tmp_path / "weights.json")
    assert model.threshold_across_languages is not None and model.threshold_across_languages > model.threshold
    assert result["held_apart"]["fresh"]["refusal_accuracy"] == 1.0
    assert set(result["cross_validated_mean"]) == {"written", "policyqa", "multilingual", "multilingual_unanswerable"}
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert f"| held apart | {model.threshold:.2f} / {model.threshold_across_languages:.2f} | fresh |" in report
    # and the model in use before the refit, scored on every set as it stands
    in_use = load_model()
    assert set(result["in_use"]["scores"]) == {c.source for c in cases}
    assert result["in_use"]["threshold"] == in_use.threshold
    assert "| in use | " in report and "| fresh |" in report


def test_recorded_cases_take_the_fold_their_gold_set_has_now() -> None:
    from rag.calibrate import _refolded

    # collected while "fresh" was tuning data and "written" held apart, then the sets moved: a refit from the recorded
    # cases must not fit on the held-apart set nor leave a tuning set out of the folds
    held_now = _refolded(_case(True, 0.8, source="fresh", fold=3))
    tuned_now = _refolded(_case(True, 0.8, source="written", fold=-1))
    policyqa = _refolded(_case(True, 0.8, source="policyqa", fold=2))

    assert held_now.fold == -1
    assert 0 <= tuned_now.fold < FOLDS
    assert policyqa.fold == 2  # folded by policy when collected
