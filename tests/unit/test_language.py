"""Question language detection and the answer's language notice."""

from __future__ import annotations

from pathlib import Path

import pytest

from clausewise.language import asked_kind, detect_language
from clausewise.settings import Settings
from rag.goldsets import read_jsonl
from rag.multilingual import CROSS_LANGUAGE_CAVEAT, language_notice, wanted

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TRANSLATED = read_jsonl(FIXTURES / "multilingual.jsonl")
NEW_QUESTIONS = read_jsonl(FIXTURES / "multilingual_questions.jsonl") + read_jsonl(FIXTURES / "multilingual_questions_pt_it_nl.jsonl")
SEED = read_jsonl(FIXTURES / "seed_dev.jsonl")


@pytest.mark.parametrize("item", TRANSLATED, ids=lambda i: i["id"])
def test_each_written_question_is_detected_in_its_language(item: dict) -> None:
    assert detect_language(item["question"]) == item["lang"]


@pytest.mark.parametrize("item", NEW_QUESTIONS, ids=lambda i: i["id"])
def test_each_new_question_is_detected_in_its_language_even_when_it_names_english_brands(item: dict) -> None:
    # e.g. m016: "用 Facebook 账号登录 Dr. Kim's Veterinary Clinic，他们会从 Facebook 拿到我的哪些信息？"
    assert detect_language(item["question"]) == item["language"]


def test_an_english_question_naming_a_chinese_brand_stays_english() -> None:
    assert detect_language("Does 字节跳动 share my data with TikTok advertisers?") == "en"


def test_every_english_seed_question_is_english_and_the_others_are_not() -> None:
    detected = {item["id"]: detect_language(item["question"]) for item in SEED}
    assert {i for i, lang in detected.items() if lang != "en"} == {"q067", "q069", "q071", "q073"}
    assert detected["q073"] == "de" and detected["q067"] == "zh"


@pytest.mark.parametrize("text", ["kim.cc?", "Kipsu", "", "123", "does kaizenify sell my data", "Datenschutz kim.cc policy?"])
def test_short_or_mixed_questions_count_as_english(text: str) -> None:
    assert detect_language(text) == "en"


def test_the_notice_names_both_languages_only_when_they_differ() -> None:
    assert language_notice("Welche Gerätedaten erfasst kim.cc?", ["en"]) == (
        f"Quoted in the policy's language (English); the question was in German. {CROSS_LANGUAGE_CAVEAT}"
    )
    assert language_notice("How long is data kept?", ["zh", "zh"]) == (
        f"Quoted in the policy's language (Chinese); the question was in English. {CROSS_LANGUAGE_CAVEAT}"
    )
    assert language_notice("How long is data kept?", ["en"]) is None
    assert language_notice("Kalodata 会保留我的个人信息多久?", ["zh"]) is None


def test_the_multilingual_index_is_used_only_across_languages() -> None:
    on, off = Settings(), Settings(multilingual_model="")
    assert wanted(on, "Wie lange bewahrt Kipsu Daten auf?", ["en"])
    assert wanted(on, "How can I delete my account?", ["zh"])
    assert not wanted(on, "How can I delete my account?", ["en", "zh"])
    assert not wanted(on, "我想注销账号,该怎么做?", ["en", "zh"])
    assert not wanted(off, "Wie lange bewahrt Kipsu Daten auf?", ["en"])


def test_a_question_asking_for_a_specific_value_is_recognised_in_other_languages() -> None:
    by_id = {item["id"]: item["question"] for item in TRANSLATED}
    for lang in ("de", "fr", "es", "zh"):
        assert asked_kind(by_id[f"q053-{lang}"]) == "email"
        assert asked_kind(by_id[f"q049-{lang}"]) == "number"
        assert asked_kind(by_id[f"q047-{lang}"]) == "name"
        assert asked_kind(by_id[f"q055-{lang}"]) == "jurisdiction"
        assert asked_kind(by_id[f"q015-{lang}"]) == "duration", "how long asks for a period, not how many"
    assert asked_kind("What email address does Kipsu give?") is None  # English: rag.asked handles it


@pytest.mark.parametrize(
    "question",
    ["Kann mein Admin meine E-Mail-Adresse ändern?", "¿Kipsu recopila mi correo electrónico?",
     "Kipsu conserve-t-il mon adresse e-mail ?", "Kipsu 会收集我的邮箱地址吗?"],
)
def test_an_e_mail_address_named_as_the_users_data_is_not_an_asked_value(question: str) -> None:
    assert asked_kind(question) is None


def test_a_question_put_to_the_company_asks_for_its_e_mail_address() -> None:
    assert asked_kind("Quelle est votre adresse e-mail pour les questions de confidentialité ?") == "email"


@pytest.mark.parametrize(
    "question",
    ["Welche Art von Verschlüsselung nutzt Kipsu?", "Quel type de chiffrement Kipsu utilise-t-il ?",
     "¿Qué tipo de cifrado usa Kaizenify?", "Kipsu 使用什么加密标准?"],
)
def test_a_named_encryption_method_is_asked_in_every_language(question: str) -> None:
    assert asked_kind(question) == "encryption"


@pytest.mark.parametrize("question", ["Verschlüsselt Kipsu meine Daten?", "Kipsu chiffre-t-il mes messages ?",
                                      "¿Kipsu cifra mis datos?"])
def test_whether_data_is_encrypted_is_a_topic_not_a_named_method(question: str) -> None:
    assert asked_kind(question) is None


@pytest.mark.parametrize(
    "question",
    ["Welche Garantien gelten, wenn Kipsu meine Daten ins Ausland übermittelt?",
     "Quelles garanties encadrent le transfert de mes données hors de l’UE par Kaizenify ?",
     "¿Qué mecanismo usa Kaizenify para la transferencia de datos al extranjero?", "Kaizenify 跨境传输数据采用什么机制?"],
)
def test_a_transfer_mechanism_is_asked_in_every_language(question: str) -> None:
    assert asked_kind(question) == "mechanism"
    assert asked_kind("Welche Garantien gibt Kipsu?") is None  # safeguards with no transfer abroad are a topic


def test_why_e_mails_keep_coming_asks_for_no_address() -> None:
    # "por qué" is "why": the question is about the newsletter, not the company's address
    assert asked_kind("Me di de baja del boletín de Kipsu, ¿por qué sigo recibiendo correos suyos?") is None
    assert asked_kind("¿Qué correo electrónico da Kipsu para preguntas de privacidad?") == "email"
