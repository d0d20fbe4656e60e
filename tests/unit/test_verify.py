"""Draft verification on hand-made drafts: what a generated answer may keep and what it must lose."""

from __future__ import annotations

from rag.prompts import REFUSAL_SENTENCE
from rag.verify import MIN_SUPPORT, check_draft, split_draft, support_score

RETENTION = (
    "Kipsu will retain personal information we process on behalf of our clients or collect directly from end users "
    "for as long as needed to provide service to our clients, subject to our compliance with this policy."
)
CHILDREN = "Kipsu does not knowingly collect any personal information from children under the age of 13."
CLAUSES = {1: RETENTION, 2: CHILDREN}
VENDOR_WORDS = {"kipsu"}


def test_split_keeps_each_sentences_citations_with_it() -> None:
    draft = "Kipsu keeps data as long as needed. [1] It does not collect data from children under 13. [2][1] Done."

    assert split_draft(draft) == [
        "Kipsu keeps data as long as needed. [1]",
        "It does not collect data from children under 13. [2][1]",
        "Done.",
    ]


def test_split_of_an_empty_or_one_sentence_draft() -> None:
    assert split_draft("") == []
    assert split_draft("  Kipsu retains data as long as needed [1]  ") == ["Kipsu retains data as long as needed [1]"]


def test_a_faithful_paraphrase_with_a_valid_citation_is_kept() -> None:
    [checked] = check_draft(
        "Kipsu retains personal information for as long as needed to provide service to its clients. [1]",
        CLAUSES,
        VENDOR_WORDS,
    )

    assert checked.supported
    assert checked.citations == (1,)
    assert checked.support >= MIN_SUPPORT
    assert "[1]" not in checked.text and checked.text.endswith("clients.")


def test_a_synonym_counts_as_support() -> None:
    # "keeps" is the user's word for the policy's "retain"
    assert support_score("keeps personal information as long as needed", RETENTION) == 1.0


def test_a_fabricated_citation_number_is_dropped() -> None:
    [checked] = check_draft("Kipsu retains personal information as long as needed. [9]", CLAUSES, VENDOR_WORDS)

    assert checked.citations == ()  # clause 9 was never given to the model
    assert not checked.supported  # and a sentence with no valid citation is not supported


def test_a_valid_number_survives_next_to_a_fabricated_one() -> None:
    [checked] = check_draft("Kipsu retains personal information as long as needed. [9][1]", CLAUSES, VENDOR_WORDS)

    assert checked.citations == (1,)
    assert checked.supported


def test_an_unsupported_claim_is_flagged_even_with_a_real_citation() -> None:
    checked = check_draft(
        "Kipsu retains personal information as long as needed. [1] Kipsu sells browsing histories to advertisers "
        "and brokers every week. [1]",
        CLAUSES,
        VENDOR_WORDS,
    )

    assert [c.supported for c in checked] == [True, False]
    assert checked[1].support < MIN_SUPPORT


def test_a_claim_citing_the_wrong_clause_is_flagged() -> None:
    [checked] = check_draft("Kipsu does not collect information from children under 13. [1]", CLAUSES, VENDOR_WORDS)

    assert not checked.supported  # clause 1 is about retention; clause 2 would have supported it


def test_an_uncited_sentence_is_not_supported() -> None:
    [checked] = check_draft("Kipsu retains personal information as long as needed.", CLAUSES, VENDOR_WORDS)

    assert checked.citations == ()
    assert not checked.supported


def test_the_refusal_sentence_is_recognised_and_never_counts_as_an_answer() -> None:
    [checked] = check_draft(REFUSAL_SENTENCE, CLAUSES, VENDOR_WORDS)

    assert "does not say" in checked.text.lower()
    assert not checked.supported  # a refusal is not evidence: the engine falls back or refuses


def test_vendor_names_do_not_count_against_support() -> None:
    with_name = check_draft("Kipsu retains personal information as long as needed. [1]", CLAUSES, set())[0]
    without = check_draft("Kipsu retains personal information as long as needed. [1]", CLAUSES, VENDOR_WORDS)[0]

    assert without.support >= with_name.support
    assert without.supported
