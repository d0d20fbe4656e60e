"""Which vendor a question is about: names, aliases, possessives, typos, ambiguity, Chinese, none."""

from __future__ import annotations

from pathlib import Path

import pytest

from clausewise.types import DocumentInfo
from ingest.load import load_manifest
from rag.vendors import across_vendors, detect_vendors, strip_vendor_names

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
KIM_CC, DR_KIM = "kim.cc", "Dr. Kim's Veterinary Clinic"


@pytest.fixture(scope="module")
def documents() -> list[DocumentInfo]:
    """The bundled corpus's manifest entries: the vendors and aliases a user can name."""
    return list(load_manifest(CORPUS, "manifest.toml").values())


@pytest.mark.parametrize(
    ("question", "vendor"),
    [
        ("How long does Kipsu keep my data?", "Kipsu"),
        ("KIPSU retention period", "Kipsu"),
        ("what does kipsu.com collect", "Kipsu"),
        ("Is Kaizenify's policy strict about cookies?", "Kaizenify"),
        ("Does Kalodata’s platform track me?", "Kalodata"),
        ("can kim cc read my gmail??", KIM_CC),
        ("does kimcc sell data", KIM_CC),
        ("What is kim.cc's retention policy?", KIM_CC),
        ("What does Dr. Kim collect?", DR_KIM),
        ("r kids allowed on the dr kims vet clinic site?", DR_KIM),
        ("what does the veterinary clinic share", DR_KIM),
    ],
)
def test_names_aliases_and_possessives_are_recognised(documents, question: str, vendor: str) -> None:
    detection = detect_vendors(question, documents)

    assert detection.vendors == [vendor]
    assert detection.ambiguous == []


@pytest.mark.parametrize("question", ["what does kaizenfy collect", "does kaizenifyy sell my data", "Kalodta cookies?"])
def test_small_typos_still_find_the_vendor(documents, question: str) -> None:
    detected = detect_vendors(question, documents).vendors

    assert len(detected) == 1
    assert detected[0] in {"Kaizenify", "Kalodata"}
    assert detected[0][:3].lower() in question.lower()


@pytest.mark.parametrize("question", ["What does Kim collect?", "does kims share my email", "Kim's cookie policy?"])
def test_kim_alone_is_ambiguous_not_guessed(documents, question: str) -> None:
    detection = detect_vendors(question, documents)

    assert detection.vendors == []
    assert len(detection.ambiguous) == 1
    word, candidates = detection.ambiguous[0]
    assert word.startswith("kim")
    assert sorted(candidates) == sorted([KIM_CC, DR_KIM])


def test_a_full_name_resolves_what_kim_alone_would_not(documents) -> None:
    detection = detect_vendors("Does kim.cc keep data longer than Kipsu?", documents)

    assert detection.vendors == [KIM_CC, "Kipsu"] or sorted(detection.vendors) == sorted([KIM_CC, "Kipsu"])
    assert detection.ambiguous == []


@pytest.mark.parametrize("question", ["Kalodata 会保留我的个人信息多久?", "卡洛数据会保留我的个人信息多久?", "如果我在 Kalodata 上关闭 cookie,会有什么影响?"])
def test_chinese_questions_find_kalodata(documents, question: str) -> None:
    assert detect_vendors(question, documents).vendors == ["Kalodata"]


@pytest.mark.parametrize("question", ["How long is my data kept?", "Who gets my email address?", "个人信息会保留多久?", ""])
def test_no_vendor_named_gives_nothing(documents, question: str) -> None:
    detection = detect_vendors(question, documents)

    assert detection.vendors == []
    assert detection.ambiguous == []


def test_several_vendors_are_all_found(documents) -> None:
    question = "What minimum age do kim.cc, Dr. Kim's Veterinary Clinic, Kipsu, Kaizenify and Kalodata set?"

    assert sorted(detect_vendors(question, documents).vendors) == sorted({d.vendor for d in documents})


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How long does Kipsu retain data?", "How long does retain data?"),
        ("What is kim.cc's policy on children?", "What is policy on children?"),
        ("what does kaizenfy collect", "what does collect"),
        ("r kids under 13 allowed on the dr kims vet clinic site?", "r kids under 13 allowed on the site?"),
        ("Compare how long Kipsu and Kalodata keep data.", "Compare how long keep data."),
        ("Which laws are named in the kim.cc, Kipsu, Kaizenify and Kalodata policies?", "Which laws are named in the policies?"),
        ("Kalodata 会保留我的个人信息多久?", "会保留我的个人信息多久?"),
        ("How long is data kept?", "How long is data kept?"),
    ],
)
def test_vendor_names_are_stripped_from_the_retrieval_query(documents, question: str, expected: str) -> None:
    assert strip_vendor_names(question, documents) == expected


@pytest.mark.parametrize(
    ("question", "asked_of_each"),
    [
        ("Which of these vendors share data with advertisers?", "share data with advertisers?"),
        ("Do any of them sell my data?", "sell my data?"),
        ("Which one of these companies keeps data longest?", "keeps data longest?"),
        ("Which of the five vendors let me delete my account?", "let me delete my account?"),
        ("Which policies mention the GDPR?", "mention the GDPR?"),
        ("Does any company sell data?", "sell data?"),
        ("Welche dieser Anbieter teilen Daten mit Werbetreibenden?", "teilen Daten mit Werbetreibenden?"),
        ("Lesquelles de ces entreprises vendent mes données ?", "vendent mes données ?"),
        ("¿Cuáles de estas empresas comparten datos con anunciantes?", "comparten datos con anunciantes?"),
        ("这些公司中哪些与广告商共享数据？", "与广告商共享数据？"),
        ("¿Qué empresas venden mis datos?", "venden mis datos?"),
    ],
)
def test_a_choice_among_the_policies_is_put_to_each_of_them(question: str, asked_of_each: str) -> None:
    assert across_vendors(question) == asked_of_each


@pytest.mark.parametrize(
    "question",
    [
        "Which companies does Kipsu share data with?",  # an object question asks for names
        "Which companies do they share data with?",
        "Which advertising companies receive my data?",  # a kind of company, named
        "Which service providers receive my data?",
        "Which of the following data does Kipsu collect?",
        "Is any of my data sold?",
        "Which of these?",
        "Welche Daten sammelt Kipsu?",
        "Quelles données Kipsu collecte-t-il ?",
        "¿Qué datos recopila Kipsu?",
        "哪些数据会被收集？",
    ],
)
def test_questions_asking_for_names_or_about_data_are_not_a_choice_among_policies(question: str) -> None:
    assert across_vendors(question) is None


def test_with_a_vendor_chosen_only_an_explicit_choice_counts() -> None:
    """With Kipsu chosen, "Which vendors receive my data?" asks for Kipsu's vendors; "any of these" still chooses."""
    assert across_vendors("Which vendors receive my data?", vendor_chosen=True) is None
    assert across_vendors("Do any of these vendors sell my data?", vendor_chosen=True) == "sell my data?"
    assert across_vendors("Welche Anbieter verkaufen meine Daten?", vendor_chosen=True) is None
    assert across_vendors("Welche dieser Anbieter verkaufen Daten?", vendor_chosen=True) == "verkaufen Daten?"
