"""Answering over the real ingested corpus with the real embedding model: what an analyst sees from Engine.

Expectations come from the gold file tests/fixtures/seed_dev.jsonl (its evidence quotes, vendors and types), never
from hard-coded answer text. Generative backends: the real SmolLM2 GGUF, and a stand-in Ollama server.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from clausewise.text import normalize_ws
from rag.answerability import load_model
from rag.api import NOT_STATED, Engine, UnknownVendorError
from rag.backends import BackendError
from rag.backends.ollama import clear_reachable_cache, ollama_base_url
from rag.goldsets import locate, not_stated_vendors, read_jsonl
from rag.retrieve import EmptyStoreError
from rag.vendors import strip_vendor_names
from rag.verify import CITATION, check_draft, split_draft
from tests.support.fake_ollama import FakeOllama, split_pieces, unused_local_url
from tests.support.gold import covered
from tests.support.models import smollm2_gguf_path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
SEED = ROOT / "tests" / "fixtures" / "seed_dev.jsonl"
KIPSU_RETENTION = "How long does Kipsu retain data?"
# Evidence recall@5 of the single-vendor seed questions (55 gold quotes). Issue #10 sets the bar at 0.95: with the
# multilingual index the German question is found, so what is left are one bullet of a kim.cc list and one Chinese
# clause. A regression below the bar fails the build.
MIN_SINGLE_VENDOR_RECALL = 0.95
# Compare rows (one per question and vendor, 21 in the seed set) whose stated / not stated matches the gold: 20 with
# the shipped refusal model (threshold 0.56, twelfth round: Kaizenify's row of "which privacy laws are named" is just
# under it; 21 with the eleventh round's), 19 at an earlier fit's 0.61: rows like the minimum-age comparison's Kipsu
# ("children under the age of 13") sit next to the threshold, which a refit can move either way.
MIN_COMPARE_ROWS_RIGHT = 0.85

# ---- the gold file ----------------------------------------------------------------------------------------------

MANIFEST = tomllib.loads((CORPUS / "manifest.toml").read_text(encoding="utf-8"))["document"]
BY_PREFIX = {d["source_file"][:3]: d for d in MANIFEST}
RAW = {d["doc_id"]: (CORPUS / d["source_file"]).read_text(encoding="utf-8") for d in MANIFEST}
ITEMS = read_jsonl(SEED)
VENDORS = sorted(d["vendor"] for d in MANIFEST)


def gold(item: dict) -> dict[str, list[tuple[str, int, int]]]:
    """Per vendor, the (doc_id, start, end) spans of the item's gold quotes in the bundled corpus files.

    A gold `file` is the original corpus name: its numeric prefix names the bundled file and, via the manifest,
    the vendor. Quotes are matched with any run of whitespace standing for any other.
    """
    spans: dict[str, list[tuple[str, int, int]]] = {}
    for evidence in item["evidence"]:
        doc = BY_PREFIX[evidence["file"][:3]]
        found = locate(RAW[doc["doc_id"]], evidence["quote"])
        assert found, f"{item['id']}: gold quote not found in {doc['source_file']}: {evidence['quote'][:60]}"
        spans.setdefault(doc["vendor"], []).append((doc["doc_id"], *found))
    return spans


def item_asking(question: str) -> dict:
    return next(i for i in ITEMS if i["question"] == question)


def overlaps(citation, spans: list[tuple[str, int, int]]) -> bool:
    return any(citation.document == doc and citation.start < end and start < citation.end for doc, start, end in spans)


# ---- fixtures -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(ingested_store) -> Engine:
    """The extractive engine over the shared store; backend tests patch its settings for the duration of a test."""
    settings = ingested_store.settings.model_copy(
        update={"backend": "extractive", "gguf": None, "ollama_host": unused_local_url(), "ollama_timeout": 10.0}
    )
    return Engine(settings, ingested_store.store)


@pytest.fixture
def fresh_reachability() -> None:
    clear_reachable_cache()
    yield
    clear_reachable_cache()


# ---- extractive answers ------------------------------------------------------------------------------------------


def test_the_kipsu_retention_question_cites_kipsus_retention_clause(engine: Engine) -> None:
    answer = engine.ask(KIPSU_RETENTION)

    assert not answer.refused
    assert answer.vendors == ["Kipsu"]
    assert answer.backend == "extractive"
    spans = gold(item_asking(KIPSU_RETENTION))["Kipsu"]
    hits = [c for c in answer.citations if overlaps(c, spans)]
    assert hits, f"no citation overlaps the gold retention quote: {[c.quote[:60] for c in answer.citations]}"
    for citation in answer.citations:
        assert citation.vendor == "Kipsu"
        assert f"[{citation.n}]" in answer.text
        assert citation.quote == normalize_ws(RAW["kipsu"][citation.start : citation.end])
        link = urlsplit(citation.url)
        assert link.path == "/" and citation.url.startswith("/?doc=kipsu&clause=")
        params = parse_qs(link.query)
        assert params["doc"] == ["kipsu"]
        assert params["clause"] == [citation.clause_id]
        assert params["start"] == [str(citation.start)] and params["end"] == [str(citation.end)]
    # the answer quotes the policy's own words
    assert normalize_ws(RAW["kipsu"][hits[0].start : hits[0].end])[:40] in answer.text


def test_every_single_vendor_question_finds_its_gold_evidence_in_the_top_5(engine: Engine) -> None:
    documents = engine.documents()
    hits, misses = 0, []
    for item in ITEMS:
        if item["type"] in ("compare", "unanswerable") or len(item["vendors"]) != 1 or not item["evidence"]:
            continue
        vendor = item["vendors"][0]
        results = engine.retriever.search(strip_vendor_names(item["question"], documents), [vendor])
        assert len(results) == engine.settings.top_k
        for span in gold(item)[vendor]:
            if covered(results, span, RAW):
                hits += 1
            else:
                misses.append(f"{item['id']} {vendor}: {RAW[span[0]][span[1] : span[1] + 60]!r}")
    recall = hits / (hits + len(misses))

    assert recall >= MIN_SINGLE_VENDOR_RECALL, f"recall@5 {recall:.3f}; missed:\n" + "\n".join(misses)


# The held-apart comparisons (tests/fixtures/compare_questions.jsonl, eighth round: 14 questions, 63 vendor rows, 26
# not stated, written by someone who read only the policies; never tuned on): 52 of 63 rows right with the shipped
# model (stated rows 36 of 37 stated, silent rows 16 of 26 "not stated"). Per set: the share of rows with the right
# stated / not stated, and the share of stated rows citing their own gold clause (every one on the seed set).
COMPARE_SETS = {"seed": ([i for i in ITEMS if i["type"] == "compare"], MIN_COMPARE_ROWS_RIGHT, 1.0),
                "held_apart": (read_jsonl(ROOT / "tests" / "fixtures" / "compare_questions.jsonl"), 0.75, 0.85)}


@pytest.mark.parametrize("compare_set", sorted(COMPARE_SETS))
def test_comparisons_say_not_stated_where_the_policy_is_silent_and_cite_each_vendors_own_clause(
        engine: Engine, compare_set: str) -> None:
    items, min_right, min_citing_gold = COMPARE_SETS[compare_set]
    rows_right, citing_gold = [], []
    for item in items:
        spans = gold(item)
        # silent: no gold quote, or the gold says so ("Kalodata: not stated - … 'contact us at:' but no address follows")
        silent = not_stated_vendors(item, {e["file"]: BY_PREFIX[e["file"][:3]]["vendor"] for e in item["evidence"]})
        assert not set(item.get("not_stated", [])) & set(spans), f"{item['id']}: a silent vendor has gold quotes"
        if sorted(item["vendors"]) == VENDORS:  # all five named: found by vendor detection, listed alphabetically
            comparison = engine.compare(item["question"])
            assert [r.vendor for r in comparison.rows] == sorted(VENDORS, key=str.lower)
        else:
            comparison = engine.compare(item["question"], item["vendors"])
            assert [r.vendor for r in comparison.rows] == item["vendors"]
        for row in comparison.rows:
            rows_right.append(row.stated == (row.vendor not in silent))
            if row.stated:
                assert row.answer.citations and all(c.vendor == row.vendor for c in row.answer.citations)
                if row.vendor not in silent:
                    citing_gold.append(any(overlaps(c, spans[row.vendor]) for c in row.answer.citations))
            else:
                assert row.answer.text.startswith(NOT_STATED)
                assert row.answer.citations == []

    right = sum(rows_right) / len(rows_right)
    assert right >= min_right, f"{sum(rows_right)} of {len(rows_right)} compare rows right"
    assert sum(citing_gold) / len(citing_gold) >= min_citing_gold, f"{sum(citing_gold)} of {len(citing_gold)} cite gold"


def test_a_comparison_of_the_named_vendors_cites_each_ones_own_clause(engine: Engine) -> None:
    item = next(i for i in ITEMS if i["type"] == "compare" and len(i["vendors"]) == 2)
    spans = gold(item)

    comparison = engine.compare(item["question"], item["vendors"])

    assert [r.vendor for r in comparison.rows] == item["vendors"]
    for row in comparison.rows:
        assert row.stated
        assert any(overlaps(c, spans[row.vendor]) for c in row.answer.citations), row.answer.text[:300]
        assert {c.vendor for c in row.answer.citations} == {row.vendor}


def test_an_answer_that_only_just_passed_the_refusal_check_says_it_is_a_weak_match(engine: Engine) -> None:
    query = strip_vendor_names(KIPSU_RETENTION, engine.documents())
    probability = engine.evidence(query, "Kipsu", engine.retriever.search(query, ["Kipsu"])).probability
    just_below = Engine(engine.settings.model_copy(update={"refusal_threshold": probability - 0.02}), engine.store)
    far_below = Engine(engine.settings.model_copy(update={"refusal_threshold": max(probability - 0.3, 0.0)}),
                       engine.store)

    weak = just_below.ask(KIPSU_RETENTION)
    clear = far_below.ask(KIPSU_RETENTION)

    assert not weak.refused and not clear.refused
    assert weak.weak_matches == ["Kipsu"] and clear.weak_matches == []
    assert [n for n in weak.notices if n.startswith("Weak match for Kipsu")], weak.notices
    assert not [n for n in clear.notices if n.startswith("Weak match")], clear.notices


def test_an_operator_can_make_the_refusal_decision_stricter_or_looser(engine: Engine) -> None:
    """CLAUSEWISE_REFUSAL_THRESHOLD moves the decision for the same evidence: at 1.0 nothing is answerable enough, at
    0.0 everything with a supporting sentence is answered (a missing asked value still refuses)."""
    strict = Engine(engine.settings.model_copy(update={"refusal_threshold": 1.0}), engine.store)
    loose = Engine(engine.settings.model_copy(update={"refusal_threshold": 0.0}), engine.store)
    default = engine.ask(KIPSU_RETENTION)

    refused = strict.ask(KIPSU_RETENTION)
    answered = loose.ask(KIPSU_RETENTION)

    assert not default.refused
    assert refused.refused and "does not say" in refused.text and refused.citations == []
    assert refused.related  # the closest clauses, shown as not answering
    assert [c.start for c in answered.citations] == [c.start for c in default.citations]
    assert engine.answerability.threshold == load_model().threshold


@pytest.mark.parametrize("item", [i for i in ITEMS if i["type"] == "unanswerable"], ids=lambda i: i["id"])
def test_unanswerable_questions_are_refused_with_the_nearest_clauses(engine: Engine, item: dict) -> None:
    answer = engine.ask(item["question"])

    assert answer.vendors == item["vendors"]
    assert answer.refused, f"answered instead of refusing: {answer.text[:300]}"
    assert "does not say" in answer.text.lower()
    assert answer.citations == []
    assert answer.related, "a refusal shows the nearest clauses it looked at"
    assert {c.vendor for c in answer.related} <= set(item["vendors"])


def test_an_answer_says_which_words_of_the_question_the_policy_never_uses(engine: Engine) -> None:
    """Like a search engine's "Missing: sell": checked against each policy's own text (any word from the synonym
    table's selling group, in any inflection), not against expected answers."""
    selling = re.compile(r"\b(sell\w*|sale\w*|sold|broker\w*)\b", re.I)
    texts = {d.vendor: engine.raw_text(d.doc_id) for d in engine.documents()}
    said = {}
    for vendor in engine.vendors():
        answer = engine.ask(f"Does {vendor} sell my data?", vendor=vendor)
        notices = [n for n in answer.notices if n.startswith(f"{vendor}'s policy never uses the word “sell”")]
        said[vendor] = bool(notices)
        assert said[vendor] == (not selling.search(texts[vendor])), (vendor, answer.notices)
        assert all("“broker”" in n and "“sale”" in n for n in notices)  # the synonyms searched are named
    assert True in said.values() and False in said.values(), said  # the corpus has both kinds: the check ran
    # across languages words cannot be compared: no such notice for a German question
    german = engine.ask("Verkauft Kalodata meine Daten?")
    assert not [n for n in german.notices if "never uses" in n], german.notices


def test_a_question_naming_no_vendor_says_how_many_of_the_policies_it_quotes(engine: Engine) -> None:
    answer = engine.ask("Is my data shared with advertisers?")
    quoted = {c.vendor for c in answer.citations}

    assert not answer.refused and 0 < len(quoted) < len(engine.vendors())
    assert any(n.startswith(f"No vendor named: this quotes the {len(quoted)} of {len(engine.vendors())} policies")
               for n in answer.notices), answer.notices
    named = engine.ask("Does Kaizenify share data with advertisers?")
    assert not any(n.startswith("No vendor named") for n in named.notices)


def _sentence_with(text: str, word: str) -> tuple[int, int]:
    """The span of the first sentence of `text` that contains `word` (the policy's own text, not an expected answer)."""
    match = re.search(rf"[^.!?\n]*\b{word}\b[^.!?\n]*[.!?]", text)
    assert match, word
    return match.start(), match.end()


def test_a_comparison_without_vendors_compares_those_the_question_names(engine: Engine) -> None:
    # two or more named: those, in the store's order; one or none named: every vendor
    two = engine.compare("Compare how long Kipsu and Kalodata keep personal data.")
    assert [r.vendor for r in two.rows] == ["Kalodata", "Kipsu"]
    assert all(r.stated and all(c.vendor == r.vendor for c in r.answer.citations) for r in two.rows)
    one = engine.compare("Does Kipsu keep data longer than the others?")
    assert [r.vendor for r in one.rows] == engine.vendors()


def test_which_of_these_vendors_asks_every_policy_and_never_wants_a_company_name(engine: Engine) -> None:
    """ "Which of these vendors share data with advertisers?" is a choice among the policies: every one is asked
    "share data with advertisers?" (in chat and in the comparison), not for the name of a company it shares with."""
    question = "Which of these vendors share data with advertisers?"
    answer = engine.ask(question)
    assert sorted(answer.vendors) == sorted(engine.vendors())
    assert any(n.startswith(f"Asked of each of the store's {len(engine.vendors())} policies") for n in answer.notices)
    for vendor in engine.vendors():  # each policy is quoted or said not to say
        assert vendor in {c.vendor for c in answer.citations} or f"{vendor}'s privacy policy does not say" in answer.text

    comparison = engine.compare(question)
    assert [r.vendor for r in comparison.rows] == engine.vendors()
    assert all(r.answer.question == question for r in comparison.rows)
    assert not any("company name" in r.answer.text for r in comparison.rows), [r.answer.text for r in comparison.rows]
    # a policy whose own text has a sentence on advertisers gets a row that cites that sentence
    for document in engine.documents():
        text = engine.raw_text(document.doc_id)
        if not re.search(r"\badvertisers\b", text):
            continue
        start, end = _sentence_with(text, "advertisers")
        row = next(r for r in comparison.rows if r.vendor == document.vendor)
        assert row.stated and any(c.document == document.doc_id and c.start < end and start < c.end
                                  for c in row.answer.citations), (document.vendor, row.answer.text)


def test_the_same_choice_asked_in_german_is_put_to_every_policy(engine: Engine) -> None:
    answer = engine.ask("Welche dieser Anbieter teilen Daten mit Werbetreibenden?")
    assert sorted(answer.vendors) == sorted(engine.vendors())
    for vendor in engine.vendors():
        assert vendor in {c.vendor for c in answer.citations} or f"{vendor}'s privacy policy does not say" in answer.text


def test_a_question_about_one_vendors_vendors_is_not_asked_of_every_policy(engine: Engine) -> None:
    named = engine.ask("Which companies does Kipsu share personal information with?")
    chosen = engine.ask("Which vendors receive my data?", vendor="Kipsu")
    assert named.vendors == ["Kipsu"] and chosen.vendors == ["Kipsu"]
    assert not any(n.startswith("Asked of each") for n in named.notices + chosen.notices)


def test_kim_alone_is_reported_as_ambiguous_rather_than_answered(engine: Engine) -> None:
    answer = engine.ask("What does Kim collect?")

    assert answer.refused
    assert answer.citations == [] and answer.vendors == []
    assert "kim.cc" in answer.text and "Dr. Kim's Veterinary Clinic" in answer.text
    assert any("ambiguous" in notice for notice in answer.notices)


def test_an_unknown_vendor_is_an_error_that_lists_the_known_ones(engine: Engine) -> None:
    with pytest.raises(UnknownVendorError) as raised:
        engine.ask("How long is data kept?", vendor="Acme Analytics")

    for vendor in VENDORS:
        assert vendor in str(raised.value)
    with pytest.raises(UnknownVendorError):
        engine.compare("How long is data kept?", ["Kipsu", "Acme Analytics"])


def test_a_vendor_name_that_fits_two_vendors_is_an_error_naming_both(engine: Engine) -> None:
    with pytest.raises(UnknownVendorError) as raised:
        engine.ask("How long is data kept?", vendor="Kim")

    assert "ambiguous" in str(raised.value)
    assert raised.value.candidates == ("Dr. Kim's Veterinary Clinic", "kim.cc")


def test_an_empty_store_is_an_error_not_an_empty_answer(settings_factory) -> None:
    empty = Engine(settings_factory(backend="extractive"))

    with pytest.raises(EmptyStoreError):
        empty.ask("How long is data kept?")
    with pytest.raises(EmptyStoreError):
        empty.compare("How long is data kept?")


def test_ask_stream_yields_tokens_and_ends_with_the_answer(engine: Engine) -> None:
    events = list(engine.ask_stream("How long does Kalodata keep user data?"))

    assert events[0].kind == "status"
    assert events[-1].kind == "answer" and events[-1].answer is not None
    assert [e.kind for e in events].count("answer") == 1
    tokens = [e.text for e in events if e.kind == "token"]
    assert len(tokens) > 5
    assert "".join(tokens) == events[-1].answer.text
    assert not events[-1].answer.refused and events[-1].answer.citations


# ---- generative backends -----------------------------------------------------------------------------------------


def assert_every_sentence_is_verified(answer, engine: Engine) -> None:
    """What the user reads: each sentence cites a clause it was given and that clause supports it."""
    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    for marker in CITATION.findall(answer.text):
        assert int(marker) in numbers
    clauses = {c.n: c.quote for c in answer.citations}
    vendor_words = {w.lower() for v in answer.vendors for w in re.findall(r"\w+", v)}
    checked = check_draft(answer.text, clauses, vendor_words)
    assert len(checked) == len(split_draft(answer.text))
    assert all(c.supported and c.citations for c in checked), [(c.text, c.support) for c in checked]


def test_gguf_answers_are_verified_or_fall_back_to_the_extractive_answer(engine: Engine, monkeypatch) -> None:
    monkeypatch.setattr(engine.settings, "gguf", smollm2_gguf_path())
    monkeypatch.setattr(engine.settings, "max_tokens", 48)

    answer = engine.ask(KIPSU_RETENTION, backend="gguf")

    assert answer.backend in ("gguf", "extractive")
    if answer.backend == "gguf":
        assert_every_sentence_is_verified(answer, engine)
    else:  # the tiny model's draft did not survive verification: the user is told, and gets the policy's words
        assert any("extractive answer" in notice for notice in answer.notices), answer.notices
        spans = gold(item_asking(KIPSU_RETENTION))["Kipsu"]
        assert any(overlaps(c, spans) for c in answer.citations)
        for quoted in re.findall(r"“(.+?)” \[\d+\]", answer.text):
            assert quoted in normalize_ws(RAW["kipsu"])


def kipsu_retention_clause_number(engine: Engine) -> tuple[int, str]:
    """The clause number the prompt gives Kipsu's retention clause, and that clause's gold quote."""
    item = item_asking(KIPSU_RETENTION)
    doc, start, end = gold(item)["Kipsu"][0]
    results = engine.retriever.search(strip_vendor_names(KIPSU_RETENTION, engine.documents()), ["Kipsu"])
    number = next(n for n, r in enumerate(results, 1) if r.chunk.start < end and start < r.chunk.end)
    return number, normalize_ws(RAW[doc][start:end])


def test_ollama_a_faithful_draft_passes_and_cites_the_clause(engine: Engine, monkeypatch, fresh_reachability) -> None:
    number, quote = kipsu_retention_clause_number(engine)
    with FakeOllama(f"{quote} [{number}]") as fake:
        monkeypatch.setattr(engine.settings, "ollama_host", fake.url)

        answer = engine.ask(KIPSU_RETENTION, backend="ollama")

        prompt = fake.chat_requests()[-1]["messages"][1]["content"]
    assert f"<<<CLAUSE {number} | vendor: Kipsu" in prompt
    assert answer.backend == "ollama"
    assert not answer.refused and not answer.notices
    assert answer.text == f"{quote} [1]"
    [citation] = answer.citations
    assert overlaps(citation, gold(item_asking(KIPSU_RETENTION))["Kipsu"])
    assert_every_sentence_is_verified(answer, engine)


def test_ollama_fabricated_citations_and_unsupported_claims_are_removed(
    engine: Engine, monkeypatch, fresh_reachability
) -> None:
    number, quote = kipsu_retention_clause_number(engine)
    draft = (
        f"{quote} [{number}] Kipsu deletes all data immediately. [{number}] "
        "Kipsu shares personal information with its hosting partners. [9]"
    )
    with FakeOllama(draft) as fake:
        monkeypatch.setattr(engine.settings, "ollama_host", fake.url)

        answer = engine.ask(KIPSU_RETENTION, backend="ollama")

    assert "[9]" not in answer.text
    assert "immediately" not in answer.text
    assert "hosting partners" not in answer.text
    assert any("removed 2 sentence(s)" in notice for notice in answer.notices), answer.notices
    assert answer.backend == "ollama"
    assert answer.text == f"{quote} [1]"
    assert_every_sentence_is_verified(answer, engine)


def test_ollama_an_unsupported_draft_falls_back_with_a_notice(engine: Engine, monkeypatch, fresh_reachability) -> None:
    with FakeOllama("Kipsu deletes all data immediately. [1] Kipsu sells browsing histories to brokers. [9]") as fake:
        monkeypatch.setattr(engine.settings, "ollama_host", fake.url)

        answer = engine.ask(KIPSU_RETENTION, backend="ollama")

    assert answer.backend == "extractive"
    assert any("extractive answer" in notice for notice in answer.notices), answer.notices
    assert "immediately" not in answer.text and "brokers" not in answer.text
    assert any(overlaps(c, gold(item_asking(KIPSU_RETENTION))["Kipsu"]) for c in answer.citations)


def test_ollama_streams_tokens_before_the_answer(engine: Engine, monkeypatch, fresh_reachability) -> None:
    number, quote = kipsu_retention_clause_number(engine)
    reply = f"{quote} [{number}]"
    with FakeOllama(reply, pieces=4) as fake:
        monkeypatch.setattr(engine.settings, "ollama_host", fake.url)

        events = list(engine.ask_stream(KIPSU_RETENTION, backend="ollama"))

    kinds = [e.kind for e in events]
    assert kinds[-1] == "answer" and kinds.count("answer") == 1
    tokens = [e.text for e in events if e.kind == "token"]
    assert tokens == split_pieces(reply, 4)  # the draft arrives piece by piece, before the verified answer
    assert kinds.index("token") < kinds.index("answer")
    assert events[-1].answer.backend == "ollama" and events[-1].answer.citations


def test_gguf_with_a_small_context_reads_each_vendors_best_clauses_instead_of_failing(engine: Engine, monkeypatch) -> None:
    # every policy's five clauses (25, ~4,000 tokens) do not fit a 2,048-token context: before, llama.cpp refused the
    # prompt and the user got the extractive answer with "need N tokens"; now the worst clauses stay out, and it says so
    monkeypatch.setattr(engine.settings, "gguf", smollm2_gguf_path())
    monkeypatch.setattr(engine.settings, "gguf_ctx", 2048)
    monkeypatch.setattr(engine.settings, "max_tokens", 48)

    answer = engine.ask("Which of these vendors share data with advertisers?", backend="gguf")

    assert not any("tokens but" in notice for notice in answer.notices), answer.notices
    [note] = [n for n in answer.notices if "do not fit its context" in n]
    read, found = map(int, re.search(r"read the best (\d+) of the (\d+) clauses", note).groups())
    assert len(VENDORS) <= read < found and "CLAUSEWISE_GGUF_CTX" in note
    if answer.backend == "gguf":
        assert_every_sentence_is_verified(answer, engine)
    else:  # the tiny model's draft did not survive verification: the policy's own words, said so
        assert any("extractive answer" in notice for notice in answer.notices), answer.notices


KIM_SHARING = "Who does kim.cc share my personal information with?"


def test_ollama_reads_the_whole_list_a_retrieved_clause_introduces(engine: Engine, monkeypatch, fresh_reachability) -> None:
    # kim.cc's "We do not share … except in the following cases:" is retrieved first, but of the bullets under it only
    # "For Legal Reasons" is among the five best clauses: the model must still read "For External Processing", which
    # the gold answer quotes, or it can only give the list's first items
    item = item_asking(KIM_SHARING)
    spans = gold(item)["kim.cc"]
    quotes = [normalize_ws(RAW[doc][start:end]) for doc, start, end in spans]
    with FakeOllama("The policy does not say.") as fake:
        monkeypatch.setattr(engine.settings, "ollama_host", fake.url)
        engine.ask(KIM_SHARING, backend="ollama")
        prompt = fake.chat_requests()[-1]["messages"][1]["content"]
    clauses = dict(re.findall(r"<<<CLAUSE (\d+) \| [^>]*>>>\n(.*?)\n<<<END CLAUSE", prompt, re.S))
    holding = {q: [int(n) for n, text in clauses.items() if q in normalize_ws(text)] for q in quotes}
    assert all(holding.values()), f"gold quotes the model was not given: {[q for q, n in holding.items() if not n]}"
    # the list's items in the policy's order, right after the clause that introduces them
    positions = [prompt.find(f"• {label}:") for label in ("For Subscriptions", "For External Processing", "For Legal Reasons")]
    assert -1 not in positions and positions == sorted(positions), positions

    external = next(q for q in quotes if "External Processing" in q)
    number = holding[external][0]
    sentence = external.split(": ", 1)[1]
    with FakeOllama(f"{sentence} [{number}]") as fake:
        monkeypatch.setattr(engine.settings, "ollama_host", fake.url)
        answer = engine.ask(KIM_SHARING, backend="ollama")
    assert answer.backend == "ollama" and not answer.refused, answer.notices
    [citation] = answer.citations
    assert overlaps(citation, spans) and "External Processing" in citation.quote
    assert_every_sentence_is_verified(answer, engine)


def test_ollama_down_auto_falls_back_and_explicit_ollama_is_an_error(
    engine: Engine, monkeypatch, fresh_reachability
) -> None:
    host = unused_local_url()
    monkeypatch.setattr(engine.settings, "ollama_host", host)

    answer = engine.ask(KIPSU_RETENTION, backend="auto")

    assert answer.backend == "extractive"
    assert ollama_base_url(host) in answer.backend_reason
    assert not answer.refused and answer.citations
    with pytest.raises(BackendError) as raised:
        engine.ask(KIPSU_RETENTION, backend="ollama")
    assert ollama_base_url(host) in str(raised.value)
