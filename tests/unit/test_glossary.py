"""The cross-language glossary: a question in German, French, Spanish, Chinese, Portuguese, Italian or Dutch gives
keyword search the English words a policy uses for the privacy concepts it names; an English question gets none."""

from __future__ import annotations

import pytest

from clausewise.glossary import english_concepts, english_terms
from clausewise.language import detect_language


@pytest.mark.parametrize(
    "question",
    ["Wie lange speichert Kipsu meine Daten?", "Combien de temps Kipsu conserve-t-il mes données ?",
     "¿Cuánto tiempo conserva Kipsu mis datos?", "Kipsu 会保存我的数据多久？", "Por quanto tempo a Kipsu guarda os meus dados?",
     "Per quanto tempo Kipsu conserva i miei dati?", "Hoe lang bewaart Kipsu mijn gegevens?"],
)
def test_how_long_is_my_data_kept_asks_for_retention_in_every_language(question: str) -> None:
    terms = english_terms(question, detect_language(question))

    assert {"retain", "keep", "period"} <= set(terms)


def test_a_german_compound_names_its_concept() -> None:
    assert "location" in english_terms("Erhebt Kalodata meine Standortdaten?", "de")
    assert {"sell", "advertising"} <= set(english_terms("Verkauft Kaizenify meine Daten an Werbepartner?", "de"))


def test_each_concept_keeps_its_own_english_words() -> None:
    # a separable German verb ("bewahrt … auf") names retention too
    assert sorted(english_concepts("Wie lange bewahrt Kipsu Daten auf?", "de")) == [["how", "long", "period"],
                                                                                  ["retain", "store", "keep"]]
    assert english_concepts("How long does Kipsu keep my data?", "en") == []


def test_words_every_clause_uses_are_not_translated() -> None:
    # "erhebt … personenbezogene Daten" (collects personal data) names nothing a clause would not also say
    assert english_terms("Welche personenbezogenen Daten erhebt kim.cc?", "de") == []


def test_an_english_question_is_left_alone() -> None:
    question = "How long does Kipsu keep my data?"

    assert english_terms(question, detect_language(question)) == []


def test_a_whole_word_entry_does_not_match_a_longer_word() -> None:
    # Portuguese "conta" is an account, "contato" a contact
    assert english_terms("Como posso entrar em contato com a Kipsu?", "pt") == ["contact"]
    assert "account" in english_terms("Posso apagar a minha conta na Kipsu?", "pt")


def test_a_common_phrase_that_only_looks_like_a_concept_adds_nothing() -> None:
    # Italian "per quanto riguarda" is "as regards", not "for how long"
    assert english_terms("Per quanto riguarda i cookie, cosa fa Kipsu?", "it") == ["cookies"]
