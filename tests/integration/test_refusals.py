"""Refusals that hold on questions written for this project against the bundled policies: a compliance user needs a
refusal where the policy is silent, with the closest clause shown as not answering, and an answer, citing the gold
clause, where it speaks.

The sets: tests/fixtures/written_questions.jsonl (82 the policies do not answer — an absent detail, another vendor's
practice, an out-of-scope topic, a false premise — and 72 they do), which the refusal decision is fitted on with
cross-validation, and tests/fixtures/fresh_questions.jsonl (55 + 55 of the same kinds: f001–f050 written in the fourth round, f051–f110
in the fifth, each time by someone who had not seen the system) and tests/fixtures/fresh_questions_2.jsonl (30 + 30,
g001–g060, eighth round, likewise) and tests/fixtures/written_questions_2.jsonl (47 + 62 in a user's wording,
twelfth round, likewise) and written_questions_3.jsonl (44 + 61, the same kind), never fitted on. The bars sit below the figures in docs/evaluation.md (cross-validated
for the written set, held apart for the fresh one), so an unrelated change does not fail the build but losing the
calibration does.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from rag.api import Engine
from rag.goldsets import locate, read_jsonl

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class GoldSet:
    name: str
    rows: list[dict]
    min_refusal_accuracy: float
    max_false_refusals: float
    min_citation_precision: float

    @property
    def unanswerable(self) -> list[dict]:
        return [r for r in self.rows if r["type"] == "unanswerable"]

    @property
    def answerable(self) -> list[dict]:
        return [r for r in self.rows if r["type"] != "unanswerable"]


def _rows(name: str) -> list[dict]:
    path = ROOT / "tests" / "fixtures" / f"{name}.jsonl"
    return read_jsonl(path)


# cross-validated, each fold refitted (`clausewise calibrate`): 0.85 / 0.08 / 0.80 (twelfth round; eleventh 0.78 / 0.08 /
# 0.80); the model in use, in sample: 0.91 / 0.08 / 0.81
WRITTEN = GoldSet("written", _rows("written_questions"), 0.75, 0.2, 0.7)
# held apart: 0.84 / 0.25 / 0.76 at the fitted threshold 0.56 (twelfth round; eleventh 0.78 / 0.22 / 0.72; tenth:
# 0.75 / 0.18 / 0.72 — the threshold sits on a flat plateau and each refit moves along the same trade-off,
# docs/evaluation.md)
FRESH = GoldSet("fresh", _rows("fresh_questions"), 0.6, 0.3, 0.65)
# eighth round, g001-g060, held apart and committed before first scored: 0.77 / 0.33 / 0.81 at the threshold 0.56
# (eleventh: 0.73 / 0.30 / 0.77)
FRESH_2 = GoldSet("fresh_2", _rows("fresh_questions_2"), 0.6, 0.4, 0.65)
# twelfth round, xa/xb/xc001-040, held apart and committed before first scored: 120 questions by three helpers asked
# for a user's wording, not the policy's ("how long does Kipsu hang on to personal data?"), less 11 that repeat a tuning
# question or each other; 0.83 / 0.31 / 0.90 at the threshold 0.56 (0.72 / 0.35 / 0.89 before "a period of time" was an
# asked value) — paraphrased answerable questions are refused one time in three (docs/evaluation.md, twelfth round)
WRITTEN_2 = GoldSet("written_2", _rows("written_questions_2"), 0.6, 0.45, 0.8)
# the same kind by three other helpers (ya/yb/yc), committed before first scored: 0.75 / 0.46 / 0.82 at the threshold
# 0.55; 0.91 / 0.48 / 0.82 at 0.56 with the twelfth round's value checks (a period of time, a named encryption method,
# a transfer mechanism, a period or name the question gives that the policy never mentions); 0.91 / 0.46 / 0.82 with
# the thirteenth's acronyms — questions in a user's words about a policy's less prominent clauses: answerable ones are
# refused almost one time in two
WRITTEN_3 = GoldSet("written_3", _rows("written_questions_3"), 0.6, 0.6, 0.7)
# fourteenth round, za/zb001-040 by two more helpers, committed before first scored (after the round's synonym groups
# were drafted): 0.86 / 0.50 / 0.95 with the old groups, 0.86 / 0.48 / 0.96 with them — half the answerable questions
# in a user's words are still refused
WRITTEN_4 = GoldSet("written_4", _rows("written_questions_4"), 0.7, 0.6, 0.8)
SETS = [WRITTEN, FRESH, FRESH_2, WRITTEN_2, WRITTEN_3, WRITTEN_4]


@pytest.fixture(scope="module")
def engine(ingested_store) -> Engine:
    return Engine(ingested_store.settings)


@pytest.fixture(scope="module", params=SETS, ids=lambda g: g.name)
def gold_set(request) -> GoldSet:
    return request.param


@pytest.fixture(scope="module")
def answers(engine: Engine, gold_set: GoldSet) -> dict[str, object]:
    """Every question of the set asked once, as a user would (vendor detected from the question)."""
    return {row["id"]: engine.ask(row["question"], backend="extractive") for row in gold_set.rows}


def _gold_spans(row: dict) -> list[tuple[str, int, int]]:
    spans = []
    for evidence in row["evidence"]:
        path = ROOT / "corpus" / evidence["file"]
        text = path.read_text(encoding="utf-8")
        found = locate(text, evidence["quote"])
        assert found, f"{row['id']}: gold quote not in {path.name}"
        spans.append((path.name, *found))
    return spans


@pytest.mark.parametrize("gold", SETS, ids=lambda g: g.name)
def test_each_set_covers_every_vendor_and_kind_of_unanswerable_question(gold: GoldSet) -> None:
    kinds = {r["kind"] for r in gold.unanswerable}
    assert kinds == {"attribute_absent", "other_vendor", "out_of_scope", "false_premise"}
    assert len(gold.unanswerable) >= 25 and len(gold.answerable) >= 25
    assert {v for r in gold.unanswerable for v in r["vendors"]} == {v for r in gold.answerable for v in r["vendors"]}


def test_the_fresh_sets_ask_nothing_the_written_set_or_each_other_asks() -> None:
    sets = SETS
    questions = [{r["question"].lower() for r in gold.rows} for gold in sets]
    assert all(len(q) == len(g.rows) for q, g in zip(questions, sets, strict=True))
    assert not any(a & b for a, b in itertools.combinations(questions, 2))


def test_questions_the_policy_does_not_answer_are_refused(gold_set: GoldSet, answers: dict) -> None:
    unanswerable = gold_set.unanswerable
    refused = [r["id"] for r in unanswerable if answers[r["id"]].refused]
    answered = {r["id"]: answers[r["id"]].text[:160] for r in unanswerable if not answers[r["id"]].refused}

    assert len(refused) / len(unanswerable) >= gold_set.min_refusal_accuracy, f"answered anyway: {answered}"


def test_a_refusal_says_so_and_shows_the_closest_clause_as_not_answering(gold_set: GoldSet, answers: dict) -> None:
    for row in gold_set.unanswerable:
        answer = answers[row["id"]]
        if not answer.refused:
            continue
        assert "does not say" in answer.text.lower(), answer.text
        assert answer.citations == []
        assert answer.related and {c.vendor for c in answer.related} <= set(row["vendors"])


def test_questions_the_policy_answers_are_answered_with_the_gold_clause(engine: Engine, gold_set: GoldSet,
                                                                       answers: dict) -> None:
    sources = {d.doc_id: d.source_file for d in engine.documents()}
    answerable = gold_set.answerable
    refused = {r["id"]: r["question"] for r in answerable if answers[r["id"]].refused}
    precisions = []
    for row in answerable:
        answer = answers[row["id"]]
        if answer.refused:
            continue
        gold = _gold_spans(row)
        hits = [any(sources[c.document] == f and c.start < e and s < c.end for f, s, e in gold) for c in answer.citations]
        precisions.append(sum(hits) / len(hits))

    assert len(refused) / len(answerable) <= gold_set.max_false_refusals, f"refused although the policy answers: {refused}"
    assert sum(precisions) / len(precisions) >= gold_set.min_citation_precision


_ITEM = re.compile(r"^(\s*)(?:[•●▪◦·*–-]|\d{1,2}[.)])\s")


def _list_after(text: str, offset: int) -> list[int]:
    """Offsets of the top-level items of the list that starts after `offset` (the line after a list intro)."""
    starts, indent = [], None
    position = text.find("\n", offset)
    while 0 <= position < len(text):
        end = text.find("\n", position + 1)
        line = text[position + 1 : end if end >= 0 else len(text)]
        match = _ITEM.match(line)
        if match is None and line.strip():
            break
        if match is not None and indent in (None, len(match.group(1))):
            indent = len(match.group(1))
            starts.append(position + 1 + indent)
        position = end
    return starts


# the sets where some answer quotes a list intro (written_4's answers quote none: the check would not run there)
@pytest.mark.parametrize("gold_set", [WRITTEN, FRESH, FRESH_2, WRITTEN_2, WRITTEN_3], ids=lambda g: g.name, indirect=True)
def test_an_answer_that_quotes_a_list_intro_quotes_every_item_of_the_list(engine: Engine, gold_set: GoldSet,
                                                                         answers: dict) -> None:
    texts = {d.doc_id: engine.raw_text(d.doc_id) for d in engine.documents()}
    lists = 0
    for row in gold_set.rows:
        answer = answers[row["id"]]
        for citation in answer.citations:
            intro = re.search(r"[:：]\s*(?:[•●▪◦·*–-]\s|$)", texts[citation.document][citation.start : citation.end + 1])
            if not intro:
                continue
            items = _list_after(texts[citation.document], citation.start + intro.start())
            if len(items) < 2:
                continue
            lists += 1
            cited = [c for c in answer.citations if c.document == citation.document]
            missing = [texts[citation.document][i : i + 60] for i in items
                       if not any(c.start <= i + 2 < c.end for c in cited)]
            assert not missing, f"{row['id']}: list items not quoted: {missing}"
    assert lists >= 1, "no answer quoted a list: the check did not run"


def test_a_sentence_that_never_touches_an_asked_concept_matches_the_question_worse(engine: Engine) -> None:
    """The weakest-word signal (real MiniLM word-piece vectors): a sentence missing the question's key concept scores
    below one that states it, and a paraphrase ("where I am" / "location") above an unrelated sentence."""
    from rag.answerability import weakest_word_match
    from rag.lexical import tokenize

    embedder, vendor = engine.retriever.embedder, set(tokenize("Acme"))

    def match(question: str, sentence: str) -> float:
        return weakest_word_match(embedder.word_vectors(question), embedder.word_vectors(sentence), vendor)

    question = "Why does Acme ask for my Social Security number for billing?"
    assert match(question, "We collect your billing address and payment card details.") < match(
        question, "We ask for your Social Security number to verify your identity for billing.")
    question = "Does Acme track where I am?"
    assert match(question, "We collect your approximate location from your IP address.") > match(
        question, "You can download a copy of your data at any time.")


def test_a_question_that_states_a_period_the_policy_never_states_is_refused(engine: Engine) -> None:
    # a false premise ("Why … for 12 years?") is refused by naming the period the policy never states
    answer = engine.ask("Why does Kipsu keep guest messages for 12 years?", backend="extractive")
    assert answer.refused and "never mentions “12 years”" in answer.text, answer.text
    assert answer.related  # the closest clauses are still shown
    # a period the policy does state ("within 30 business days") is no reason to refuse
    stated = engine.ask("Does Kipsu answer access requests within thirty business days?", backend="extractive")
    assert "never mentions" not in stated.text and not stated.refused, stated.text


def test_a_question_naming_something_the_policy_never_mentions_is_refused_saying_so(engine: Engine) -> None:
    answer = engine.ask("Does Kipsu send my guest conversations to OpenAI?", backend="extractive")
    assert answer.refused and "never mentions “OpenAI”" in answer.text, answer.text
    assert answer.related
