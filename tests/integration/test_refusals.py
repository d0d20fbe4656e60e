"""Refusals that hold on questions written for this project (tests/fixtures/written_questions.jsonl): the bundled
policies do not answer 52 of them (an absent detail, another vendor's practice, an out-of-scope topic, a false
premise) and do answer the other 42. What a compliance user needs: a refusal where the policy is silent, with the
closest clause shown as not answering, and an answer, citing the gold clause, where it speaks.

The bars sit below the cross-validated figures in docs/evaluation.md (measured on folds the decision was not fitted
on), so an unrelated change does not fail the build but losing the calibration does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rag.api import Engine
from rag.goldsets import locate

ROOT = Path(__file__).resolve().parents[2]
WRITTEN = ROOT / "tests" / "fixtures" / "written_questions.jsonl"
ROWS = [json.loads(line) for line in WRITTEN.read_text(encoding="utf-8").splitlines() if line.strip()]
UNANSWERABLE = [r for r in ROWS if r["type"] == "unanswerable"]
ANSWERABLE = [r for r in ROWS if r["type"] != "unanswerable"]
MIN_REFUSAL_ACCURACY = 0.8
MAX_FALSE_REFUSALS = 0.2
MIN_CITATION_PRECISION = 0.7


@pytest.fixture(scope="module")
def engine(ingested_store) -> Engine:
    return Engine(ingested_store.settings)


@pytest.fixture(scope="module")
def answers(engine: Engine) -> dict[str, object]:
    """Every written question asked once, as a user would (vendor detected from the question)."""
    return {row["id"]: engine.ask(row["question"], backend="extractive") for row in ROWS}


def _gold_spans(row: dict) -> list[tuple[str, int, int]]:
    spans = []
    for evidence in row["evidence"]:
        path = ROOT / "corpus" / evidence["file"]
        text = path.read_text(encoding="utf-8")
        found = locate(text, evidence["quote"])
        assert found, f"{row['id']}: gold quote not in {path.name}"
        spans.append((path.name, *found))
    return spans


def test_the_written_set_covers_every_vendor_and_kind_of_unanswerable_question() -> None:
    kinds = {r["kind"] for r in UNANSWERABLE}
    assert kinds == {"attribute_absent", "other_vendor", "out_of_scope", "false_premise"}
    assert len(UNANSWERABLE) >= 40
    assert {v for r in UNANSWERABLE for v in r["vendors"]} == {v for r in ANSWERABLE for v in r["vendors"]}


def test_questions_the_policy_does_not_answer_are_refused(answers: dict) -> None:
    refused = [r["id"] for r in UNANSWERABLE if answers[r["id"]].refused]
    answered = {r["id"]: answers[r["id"]].text[:160] for r in UNANSWERABLE if not answers[r["id"]].refused}

    assert len(refused) / len(UNANSWERABLE) >= MIN_REFUSAL_ACCURACY, f"answered anyway: {answered}"


def test_a_refusal_says_so_and_shows_the_closest_clause_as_not_answering(answers: dict) -> None:
    for row in UNANSWERABLE:
        answer = answers[row["id"]]
        if not answer.refused:
            continue
        assert "does not say" in answer.text.lower(), answer.text
        assert answer.citations == []
        assert answer.related and {c.vendor for c in answer.related} <= set(row["vendors"])


def test_questions_the_policy_answers_are_answered_with_the_gold_clause(engine: Engine, answers: dict) -> None:
    sources = {d.doc_id: d.source_file for d in engine.documents()}
    refused = {r["id"]: r["question"] for r in ANSWERABLE if answers[r["id"]].refused}
    precisions = []
    for row in ANSWERABLE:
        answer = answers[row["id"]]
        if answer.refused:
            continue
        gold = _gold_spans(row)
        hits = [any(sources[c.document] == f and c.start < e and s < c.end for f, s, e in gold) for c in answer.citations]
        precisions.append(sum(hits) / len(hits))

    assert len(refused) / len(ANSWERABLE) <= MAX_FALSE_REFUSALS, f"refused although the policy answers: {refused}"
    assert sum(precisions) / len(precisions) >= MIN_CITATION_PRECISION


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


def test_an_answer_that_quotes_a_list_intro_quotes_every_item_of_the_list(engine: Engine, answers: dict) -> None:
    texts = {d.doc_id: engine.raw_text(d.doc_id) for d in engine.documents()}
    lists = 0
    for row in ROWS:
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
