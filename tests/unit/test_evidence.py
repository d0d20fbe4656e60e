"""Sentence evidence: what a question asks for, which sentences get quoted, and when the policy does not answer."""

from __future__ import annotations

import pytest

from clausewise.embedding import get_embedder
from clausewise.settings import Settings
from clausewise.types import Chunk, ScoredChunk
from rag.answerability import WORD_OVERLAP_SIGNALS, Vocabulary, decide, load_model, measure
from rag.asked import asked_attribute, has_attribute, names_absent, quantities_absent
from rag.evidence import (
    CJK_COMPANION_RATIO,
    COMPANION_RATIO,
    SAME_CLAUSE_RATIO,
    Sentence,
    complete_lists,
    coverage,
    idf_table,
    pick_sentences,
    score_sentences,
)
from rag.lexical import tokenize


def sentence(
    text: str,
    score: float,
    *,
    clause: str = "acme/c1",
    section: tuple[str, ...] = ("Retention",),
    start: int = 0,
    chunk_start: int | None = None,
    chunk_end: int | None = None,
    dense: float = 0.5,
    cover: float = 1.0,
) -> Sentence:
    """A scored sentence of a made-up Acme clause (offsets are what ordering and neighbourhood look at)."""
    chunk = Chunk(
        chunk_id=f"id-{clause}",
        doc_id="acme",
        vendor="Acme",
        lang="zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en",
        section_path=section,
        clause_ids=(clause,),
        start=start if chunk_start is None else chunk_start,
        end=start + len(text) if chunk_end is None else chunk_end,
        text=text,
        embed_text=" ".join(section) + " " + text,
        content_hash=clause,
    )
    return Sentence(ScoredChunk(chunk, 0.8), start, start + len(text), text, score=score, dense=dense, coverage=cover)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What email address should I use to contact Acme?", "email"),
        ("How many days does Acme keep my data after I close my account?", "number"),
        ("What is the name of Acme's Data Protection Officer?", "name"),
        ("Which country's law governs Acme's privacy policy?", "jurisdiction"),
        ("How quickly will Acme respond to my request?", "timeframe"),
        ("Which privacy laws are named in the policy?", "law"),
        ("What is Acme's contact information for privacy questions?", "contact"),
        # a period, which "as long as necessary" or "until you delete it" gives as well as "30 days"
        ("How long does Acme keep my data?", "duration"),
        ("how long does acme hang on to my stuff", "duration"),
        ("How long does it take Acme to answer a request?", "timeframe"),  # the time to act, not a period kept
        # a named encryption method or transfer mechanism, not encryption or transfers in general
        ("What kind of encryption does Acme use to protect my data?", "encryption"),
        ("Does Acme encrypt my messages?", None),
        ("What legal mechanism does Acme rely on to send my data abroad?", "mechanism"),
        ("What safeguards does Acme use to protect personal information?", None),  # security, not a transfer
        ("Does Acme sell my data?", None),
        # an e-mail, phone number or contact details named as the user's data are a topic, not an asked value
        ("Can my admin change my e-mail address?", None),
        ("Can Acme link what I do on my phone with my laptop?", None),
        ("What contact information do you collect from me?", None),
        ("Does the company share user's contact information with a third party?", None),
        ("What phone number can I call to reach Acme's Privacy Officer?", "phone"),
        ("How much information will Acme ask for when I open a ticket?", None),
        ("At what web address can I read Acme's Cookies Policy?", "url"),
        ("Does Acme record the URLs I visit?", None),
        ("Who is the CEO of Acme?", "name"),
        ("Who is Acme's data protection officer?", "name"),  # the possessive, not only "who is the"
        ("Who's Acme's DPO?", "name"),
        ("Who does Acme share my data with?", None),  # recipients are a topic, not a person's name
        ("Who is responsible for my data at Acme?", None),
        # organisations asked for by name, plural or singular, whatever verb follows
        ("Which affiliated companies does Acme share my data with?", "organisation"),
        ("Which advertising companies receive the data Acme collects?", "organisation"),
        ("Which payment processor does Acme use?", "organisation"),
        ("What kinds of service providers does Acme share my information with?", None),  # kinds, not names
        ("What data do partners get from Acme?", None),  # a verb between: it asks for data
        ("What is the company's policy towards children?", None),
        ("What information does Acme share with third-party companies?", None),
        ("What is your e-mail address for privacy questions?", "email"),  # put to the company: its address
        ("Do you let users control the use of their contact info?", None),
        ("What is their phone number for privacy questions?", "phone"),
    ],
)
def test_the_asked_kind_of_value_is_recognised(question: str, kind: str | None) -> None:
    assert asked_attribute(question) == kind


def test_a_number_of_days_must_be_days_not_any_number() -> None:
    question = "How many days does Acme keep my data?"

    assert has_attribute("number", "We delete your data within 30 days of closure.", question)
    assert has_attribute("number", "Logs are kept for thirty calendar days.", question)
    assert not has_attribute("number", "Our Services do not address anyone under 13.", question)
    assert not has_attribute("number", "See Section 16 for your rights.", question)


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("email", "Write to privacy@acme.example with questions.", True),
        ("email", "Contact us at:", False),
        ("contact", "Attn: Privacy Officer 100 S 1st Street #583491 Minneapolis, MN 55458-3491", True),
        ("contact", "Please see the Contact Us section below.", False),
        ("name", "Our Data Protection Officer is Jane Doe.", True),
        ("name", "Our Privacy Officer is accountable for compliance.", False),
        ("jurisdiction", "This policy is governed by the laws of Ireland.", True),
        ("jurisdiction", "We comply with applicable legal regulations.", False),
        ("timeframe", "We will respond to such queries within 30 business days.", True),
        ("timeframe", "We respond to tickets you send us.", False),
        ("law", 'including the California Consumer Privacy Act ("CCPA")', True),
        ("law", "We comply with applicable laws.", False),
        ("duration", "We retain personal information for as long as needed to provide the service.", True),
        ("duration", "Cookie data is kept for thirteen months.", True),
        ("duration", "Logs are deleted 30 days after collection.", True),
        ("duration", "We keep your content until you delete your account.", True),
        ("duration", "3.1 只要您还在使用我们的服务,我们就会保留您的信息。", True),  # "as long as you use our services"
        ("duration", "Persistent cookies remain on computers after the web browser is closed.", False),
        ("encryption", "Data is encrypted in transit using TLS 1.2 and at rest using AES-256.", True),
        ("encryption", "We use commercially acceptable means of protecting your personal information.", False),
        ("mechanism", "Such transfers rely on the Standard Contractual Clauses approved by the European Commission.", True),
        ("mechanism", "By submitting your personal information, you consent to its transfer to the United States.", True),
        ("mechanism", "We take steps to protect your information wherever it is processed.", False),
        ("duration", "We retain personal information to comply with our legal obligations.", False),
    ],
)
def test_whether_a_sentence_carries_the_asked_value(kind: str, text: str, expected: bool) -> None:
    assert has_attribute(kind, text) is expected


def _decide(question: str, best: Sentence, policy: str) -> tuple[bool, str, float]:
    """The shipped refusal decision on one best sentence of a made-up policy whose whole text is `policy`."""
    texts = [best.text, policy, "cookies are small files", "we share data with partners", "you may contact us"]
    idf = idf_table([tokenize(t) for t in texts])
    signals = measure(question, best, [best], idf, {"acme"}, Vocabulary.of([tokenize(policy), tokenize(best.text)]))
    return decide(question, signals, load_model())


def test_across_languages_the_word_signals_read_the_glossary_concepts_or_stay_undefined() -> None:
    import math

    best = sentence("We retain your account data for as long as needed to provide the service.", 0.8, dense=0.4)
    policy = Vocabulary.of([tokenize(best.text), tokenize("We never share data with advertisers.")])
    idf = idf_table([tokenize(best.text), tokenize("cookies are small files")])
    retain = [tokenize("retain store keep")]
    sell = [tokenize("sell sale")]

    def measured(concepts):
        return measure("Wie lange bewahrt Acme meine Daten auf?", best, [best], idf, {"acme"}, policy,
                       across_languages=True, concepts=concepts)

    kept, sold, none = measured(retain), measured(sell), measured([])
    assert (kept.key_term_in_sentence, kept.key_term_coverage, kept.key_term_in_policy) == (1.0, 1.0, 1.0)
    assert (sold.key_term_in_sentence, sold.key_term_in_policy, sold.policy_coverage) == (0.0, 0.0, 0.0)
    assert math.isnan(kept.phrase_in_clause) and math.isnan(kept.weakest_word_match)  # no phrase to translate
    assert all(math.isnan(getattr(none, name)) for name in WORD_OVERLAP_SIGNALS)  # nothing the glossary names
    model = load_model()
    assert model.probability(kept) > model.probability(none) > model.probability(sold)


def test_a_missing_value_means_the_policy_does_not_say() -> None:
    best = sentence("Our Privacy Officer is accountable for our compliance with this policy.", 0.8, dense=0.6)

    answered, reason, _ = _decide("What is the name of Acme's Data Protection Officer?", best, best.text)

    assert not answered
    assert "name" in reason


@pytest.mark.parametrize(
    ("question", "text", "kind"),
    [
        ("What phone number can I call to reach Acme?", "You can e-mail privacy@acme.example with questions.", "phone number"),
        ("Which payment processor does Acme use for my card?", "Payments are handled by a third-party processor.", "company name"),
        ("How much does an Acme subscription cost?", "You can subscribe to Acme plans at any time.", "price"),
        ("What is the effective date of Acme's policy?", "This policy may be updated from time to time.", "date"),
    ],
)
def test_a_specific_value_the_policy_never_gives_is_not_answered(question: str, text: str, kind: str) -> None:
    best = sentence(text, 0.8, dense=0.7)

    answered, reason, _ = _decide(question, best, text)

    assert not answered
    assert kind in reason


def test_unrelated_evidence_is_not_an_answer() -> None:
    best = sentence("We use cookies to remember your preferences.", 0.4, dense=0.15, cover=0.0)

    answered, reason, _ = _decide("What does Acme do with my pets' medical records?", best, best.text)

    assert not answered
    assert reason == "no clause addresses what is asked"


def test_evidence_that_covers_the_question_answers_it() -> None:
    best = sentence("We retain account data for as long as your account is active.", 0.8, dense=0.7, cover=1.0)

    answered, reason, probability = _decide("How long does Acme keep account data?", best, best.text)

    assert (answered, reason) == (True, "")
    assert probability >= load_model().threshold


def test_a_term_the_policy_never_uses_lowers_the_chance_of_an_answer() -> None:
    question = "How long does Acme keep the voice recordings of my calls?"
    best = sentence("We retain account data for as long as your account is active.", 0.8, dense=0.45, cover=0.5)

    _, _, without = _decide(question, best, best.text)
    _, _, mentioned = _decide(question, best, best.text + " We record calls and keep voice recordings.")

    assert without < mentioned


def test_signals_are_fractions_and_the_model_ships_fitted() -> None:
    best = sentence("We retain account data for as long as your account is active.", 0.8, dense=0.6)
    idf = idf_table([tokenize(best.text)])

    signals = measure("How long does Acme keep account data?", best, [best], idf, {"acme"}, Vocabulary.of([tokenize(best.text)]),
                      weakest_word=0.7, reliance=0.6)

    assert all(0.0 <= value <= 1.0 for value in signals.vector())
    model = load_model()
    assert any(model.weights) and 0.0 < model.threshold < 1.0, "rag/answerability.json holds no fitted model"
    assert model.provenance.get("cross_validated_mean"), "the weights say how they were cross-validated"


def _item(chunk_id: str, section: tuple[str, ...], start: int, text: str) -> Chunk:
    return Chunk(chunk_id=chunk_id, doc_id="acme", vendor="Acme", lang="en", section_path=section, clause_ids=(chunk_id,),
                 start=start, end=start + len(text), text=text, embed_text=text, content_hash=chunk_id)


def _listed(parts: list[str]) -> tuple[Sentence, dict[str, Chunk], dict[str, str]]:
    """One clause per part, in a "Sharing" section: (the first part as a chosen sentence, chunk successors, raw text)."""
    raw = "\n".join(parts)
    offsets = [raw.index(p) for p in parts]
    chunks = [_item(f"c{i}", ("Sharing",), offsets[i], p) for i, p in enumerate(parts)]
    following = {a.chunk_id: b for a, b in zip(chunks, chunks[1:], strict=False)}
    intro = Sentence(ScoredChunk(chunks[0], 0.9), offsets[0], offsets[0] + len(parts[0]), parts[0], score=0.9)
    return intro, following, {"acme": raw}


def test_a_list_introduced_by_a_chosen_sentence_is_quoted_whole() -> None:
    parts = [
        "We share personal information only in the following cases:",
        "• With your consent: when you ask us to.",
        "• For processing: with service providers who work for us. They follow our instructions.",
        "• For legal reasons: when the law requires it.",
        "We keep records of every disclosure.",
    ]
    intro, following, raw = _listed(parts)

    quoted = [s.text for s in complete_lists([intro], following, raw)]

    assert quoted == [parts[0], parts[1], "• For processing: with service providers who work for us.", parts[3]]


SHARING = ["We share personal information only in the following cases:", "• With your consent: when you ask us to.",
           "• For legal reasons: when the law requires it."]
RETENTION = ["We keep your information as follows:", "• Account information: while your account is open.",
             "• Managed accounts: as long as your administrator requires."]
RIGHTS = ["California residents have the following rights:", "• Right to Know: you may ask what we collected.",
          "• Right to Delete: you may ask us to delete it."]


@pytest.mark.parametrize(("parts", "question", "quoted"), [
    (SHARING, "Does Acme share my data for legal reasons?", [0, 2]),  # the item the question names, without siblings
    (SHARING, "Who gets my data?", [0, 1, 2]),  # no item named: the whole list
    (RETENTION, "How long does Acme keep account information?", [0, 1]),  # whole label named; "accounts" alone is not
    (RIGHTS, "Does Acme know where I am?", [0, 1, 2]),  # one shared word ("know") names no item: the whole list
], ids=["named", "none-named", "whole-label", "shared-word"])
def test_a_list_item_is_quoted_alone_only_when_the_question_names_its_whole_label(parts, question, quoted) -> None:
    intro, following, raw = _listed(parts)

    got = [s.text for s in complete_lists([intro], following, raw, set(tokenize(question)))]

    assert got == [parts[i] for i in quoted]


def test_a_sentence_that_introduces_no_list_brings_nothing_more() -> None:
    parts = ["We share personal information with service providers.", "• With your consent: when you ask us to."]
    raw = "\n".join(parts)
    chunks = [_item("c0", ("Sharing",), 0, parts[0]), _item("c1", ("Sharing",), raw.index(parts[1]), parts[1])]
    first = Sentence(ScoredChunk(chunks[0], 0.9), 0, len(parts[0]), parts[0], score=0.9)

    assert complete_lists([first], {"c0": chunks[1]}, {"acme": raw}) == [first]


def test_coverage_counts_synonyms_and_weights_rare_words() -> None:
    texts = ["we retain data", "we retain logs", "cookies are small files", "we share data with partners"]
    idf = idf_table([tokenize(t) for t in texts])

    assert coverage(tokenize("keep logs"), "We retain logs for a year.", idf) == 1.0  # keep ~ retain
    assert coverage(tokenize("keep logs"), "We use cookies.", idf) == 0.0
    assert 0.0 < coverage(tokenize("share cookies"), "We share data with partners.", idf) < 1.0


def test_chinese_character_pairs_the_store_never_contains_are_ignored() -> None:
    idf = idf_table([tokenize("我们会保留您的信息"), tokenize("我们使用cookie")])

    # "多久" (how long) never occurs in the policy text: it cannot count against the clause
    assert coverage(tokenize("保留信息多久"), "我们会保留您的信息", idf) == 1.0


def test_a_runner_up_from_the_same_clause_is_quoted_too() -> None:
    best = sentence("We retain account data while your account is active.", 1.0, start=0)
    same = sentence("We may keep it longer for legal obligations.", SAME_CLAUSE_RATIO + 0.01, start=60)
    weak = sentence("Contact us with questions.", SAME_CLAUSE_RATIO - 0.1, start=120)

    assert pick_sentences([best, same, weak]) == [best, same]


def test_another_clause_must_score_nearly_as_well_and_belong_to_the_same_section() -> None:
    best = sentence("We retain account data while your account is active.", 1.0, clause="acme/c1", start=0)
    sibling = sentence("Backups are deleted after 90 days.", COMPANION_RATIO, clause="acme/c2", start=500, chunk_start=480)
    elsewhere = sentence(
        "We store data on servers in Ireland.", 0.99, clause="acme/c9", section=("Hosting",), start=5000
    )

    chosen = pick_sentences([best, elsewhere, sibling])

    assert chosen == [best, sibling]  # document order; the high-scoring sentence of another section stays out


def test_chinese_sentences_of_other_clauses_need_a_higher_score() -> None:
    best = sentence("3.1 只要您还在使用我们的服务,我们就会保留您的信息。", 1.0, clause="k/3.1", section=("3",), start=0)
    between = (COMPANION_RATIO + CJK_COMPANION_RATIO) / 2  # enough for English, not for Chinese
    close = sentence("3.2 我们仅在有合法的商业目的时保留这些信息。", between, clause="k/3.2", section=("3",), start=40)
    closer = sentence("3.3 我们还将保留您的数据。", CJK_COMPANION_RATIO, clause="k/3.3", section=("3",), start=80)

    assert pick_sentences([best, closer, close]) == [best, closer]


def test_a_sentence_ending_with_a_colon_brings_what_it_introduces() -> None:
    intro = sentence("If you have questions, please contact us at:", 1.0, clause="acme/contact", section=("Contact",), start=0)
    address = sentence(
        "Acme Inc., 1 Main Street, Springfield", 0.2, clause="acme/address", section=("Acme",), start=50, chunk_start=48
    )
    unrelated = sentence("We use cookies.", 0.1, clause="acme/cookies", section=("Cookies",), start=900)

    assert pick_sentences([intro, address, unrelated]) == [intro, address]


def test_at_most_the_limit_is_quoted_in_document_order() -> None:
    ranked = [sentence(f"Sentence number {i} about retention.", 1.0 - i * 0.01, start=100 - i * 10) for i in range(6)]

    chosen = pick_sentences(ranked, limit=2)

    assert len(chosen) == 2
    assert [s.start for s in chosen] == sorted(s.start for s in chosen)


def test_the_sentence_with_the_asked_value_leads_the_ranking() -> None:
    embedder = get_embedder(Settings().embedding_model)
    question = "What email address does Acme give for privacy questions?"
    vague = sentence("We use your email address to send you newsletters and privacy updates.", 0.0, clause="a/1")
    exact = sentence("For questions about this policy, write to privacy@acme.example.", 0.0, clause="a/2", start=200)
    idf = idf_table([tokenize(vague.text), tokenize(exact.text)])

    ranked = score_sentences(question, [vague, exact], embedder, idf, {"acme"})

    assert ranked[0].text == exact.text
    assert has_attribute("email", pick_sentences(ranked)[0].text)


def test_across_languages_the_glossary_words_rank_the_sentence_that_names_the_concept_first() -> None:
    embedder = get_embedder(Settings().embedding_model)
    question = "Verkauft Acme meine personenbezogenen Daten?"  # German: no word of it is in the English policy
    definition = sentence("In this policy, personal information means information that identifies you.", 0.0,
                          clause="a/1")
    sells = sentence("Acme will not sell any personal information to third parties.", 0.0, clause="a/1", start=200)
    idf = idf_table([tokenize(definition.text), tokenize(sells.text), tokenize("cookies are small files")])

    plain = {s.text: s.score for s in score_sentences(question, [definition, sells], embedder, idf, {"acme"})}
    ranked = score_sentences(question, [definition, sells], embedder, idf, {"acme"}, translated=["sell", "sale"])

    assert ranked[0].text == sells.text
    gained = {s.text: s.score - plain[s.text] for s in ranked}
    assert gained[sells.text] > gained[definition.text] >= 0.0


def test_words_the_policy_never_uses_are_named_as_the_question_spells_them() -> None:
    from rag.evidence import words_absent_from
    from rag.lexical import synonym_words

    policy = set(tokenize("We never sell personal data. We retain records for 30 days and use encryption."))
    acme = set(tokenize("Acme"))
    assert words_absent_from("Does Acme sell my data?", acme, policy) == []
    assert words_absent_from("Does Acme keep my data?", acme, policy) == []  # "retain" is keep's synonym
    assert words_absent_from("Is Acme encrypting my messages?", acme, policy) == ["messages"]  # encrypt is there
    # stopword inflections, generic privacy words and the vendor's name are not "missing"
    assert words_absent_from("Do others at Acme get vendors' personal information?", acme, policy) == []
    no_selling = set(tokenize("We keep your data for 30 days."))
    assert words_absent_from("Does Acme sell or rent my data?", acme, no_selling) == ["sell", "rent"]
    # the verbs a question is phrased with are not its topic: only "sell" is missing here
    assert words_absent_from("What happens if Acme sells my data? Does it let me know?", acme, no_selling) == ["sells"]
    assert words_absent_from("Can I ask Acme to tell me who buys my data?", acme, no_selling) == ["buys"]
    assert synonym_words("selling") == ["sale", "sold", "broker", "monetize", "monetise"]
    assert synonym_words("rent") == []


def test_a_users_word_for_a_practice_finds_the_policys_word_for_it() -> None:
    from rag.evidence import words_absent_from

    acme = set(tokenize("Acme"))
    unrelated = set(tokenize("We use cookies to remember your language."))
    for question, word, policy_text in [
        ("Would Acme hand my details to the police?", "police", "We may disclose information to law enforcement."),
        ("What happens to my data if Acme gets bought?", "bought", "In a merger, your data may be transferred."),
        ("Can my account get hacked?", "hacked", "We use industry-standard security measures."),
        ("What does Acme read off my laptop?", "laptop", "We collect your device model."),
        ("Will Acme send me promo emails?", "promo", "We send marketing emails."),
        ("Does Acme keep my card number?", "card", "Payment details are processed by our processor."),
    ]:
        assert word not in words_absent_from(question, acme, set(tokenize(policy_text))), question
        assert word in words_absent_from(question, acme, unrelated), question  # another practice's words do not count


def test_words_that_give_the_form_of_a_question_are_not_missing_from_a_policy() -> None:
    """'What *type* of information …', '… *If yes*, how?', '… on your *website*': a policy that never uses those words
    is not missing what was asked, so they are neither named as absent nor counted against the policy's coverage."""
    from rag.evidence import words_absent_from

    acme = set(tokenize("Acme"))
    text = "We collect your name and e-mail address when you register."
    policy = set(tokenize(text))
    for question in ("What type of information does Acme collect on its website?",
                     "Does Acme collect my information? If yes, in what ways?"):
        assert words_absent_from(question, acme, policy) == []
        best = sentence(text, 0.8, dense=0.6, cover=1.0)
        signals = measure(question, best, [best], {t: 1.0 for t in policy}, acme, Vocabulary.of([list(policy)]))
        assert signals.policy_coverage == 1.0
    # a topic word the policy lacks is still named
    assert words_absent_from("What type of biometric information does Acme collect?", acme, policy) == ["biometric"]


@pytest.mark.parametrize("question, policy_text", [
    ("Can I edit my information at Acme?", "You may update or correct your account details at any time."),
    ("Will Acme save my data?", "We retain records for 30 days."),
    ("Does Acme give me choices about marketing?", "You can set your marketing preferences in your account."),
    ("Does Acme ask for my permission?", "We ask for your consent before we send newsletters."),
    ("Does Acme know my identity?", "We do not identify individual visitors."),
])
def test_privacy_words_a_user_and_a_policy_use_for_the_same_idea_match(question: str, policy_text: str) -> None:
    from rag.evidence import words_absent_from

    assert words_absent_from(question, set(tokenize("Acme")), set(tokenize(policy_text))) == []


def test_a_sentence_about_the_asked_word_relies_on_it_and_one_about_the_rest_does_not() -> None:
    """Leaving the question's rarest content word out ("sell") lowers its similarity to a sentence about selling, and
    raises it for a sentence that only matched the rest ("personal information"): the refusal model reads the gap."""
    from rag.answerability import key_word_reliance, without_word

    embedder = get_embedder(Settings().embedding_model)
    idf = {t: 1.0 for t in tokenize("personal information third parties identifies means")}  # "sell" is rarest
    acme = set(tokenize("Acme"))
    question = "Does Acme sell my personal information?"
    assert without_word(question, "sell") == "Does Acme  my personal information?"
    about_selling = key_word_reliance(question, "Acme will not sell any personal information to third parties.",
                                      embedder, idf, acme)
    about_the_rest = key_word_reliance(question, "Personal information means information that identifies you.",
                                       embedder, idf, acme)
    assert about_selling > 0.5 > about_the_rest


def test_a_period_the_question_states_counts_only_if_the_policy_states_it_too() -> None:
    policy = "We respond within 30 business days. Logs are kept for seven years. Users must be over 13."
    # the premise of a "why" question is a period the policy never states
    assert quantities_absent("Why does Acme keep my data for 10 years after I delete my account?", policy) == ["10 years"]
    assert quantities_absent("Under Acme's 90-day retention rule, when are e-mails deleted?", policy) == ["90-day"]
    # stated in digits or in words, with or without "business", it is the policy's own
    assert quantities_absent("Does Acme answer within thirty days?", policy) == []
    assert quantities_absent("Why does Acme keep logs for 7 years?", policy) == []
    assert quantities_absent("Can my 14-year-old sign up?", policy) == []  # an age, not a period


def test_a_name_the_question_gives_counts_only_if_the_policy_mentions_it() -> None:
    policy = "We host data with Google Cloud. We honour Do Not Track signals. Contact our Privacy Officer."
    vendor = {"acm"}  # the stem of the vendor's name
    assert names_absent("Does Acme send my chats to OpenAI?", policy, vendor) == ["OpenAI"]
    assert names_absent("Does Acme hold a SOC 2 or ISO 27001 certification?", policy, vendor) == ["SOC", "ISO"]
    # mentioned in any case, as a whole word; the vendor's own name and the first word are not names asked about
    assert names_absent("Does Acme keep my files on Google Cloud?", policy, vendor) == []
    assert names_absent("Can Acme read my Google Drive?", policy, vendor) == []  # one of its words is the policy's
    assert names_absent("Does Acme collect my IP address and device IDs?", policy, vendor) == ["IP"]  # "IDs": a noun
    assert names_absent("Does Acme honor the Do Not Track setting?", policy, vendor) == []
    assert names_absent("Can I write to the Privacy Officer of Acme?", policy, vendor) == []
    # a question in title case names nothing by its capitals
    assert names_absent("How Long Does Acme Keep My Data?", policy, vendor) == []
    # an acronym the policy spells out is mentioned: capitalised initials in order, or a long form written in lower case
    assert names_absent("Does Acme respect my DNT preference?", policy.lower(), vendor) == []
    laws = "Residents have rights under the California Consumer Privacy Act. We log internet protocol addresses."
    assert names_absent("Does Acme follow the CCPA?", laws, vendor) == []
    assert names_absent("Does Acme log my IP address?", laws, vendor) == []
    assert names_absent("Does Acme follow PIPEDA?", laws, vendor) == ["PIPEDA"]
    # not any words that start with the letters: "and we share" does not spell AWS
    assert names_absent("Does Acme use AWS?", "We collect it and we share it.", vendor) == ["AWS"]


def test_an_intro_whose_list_is_not_in_the_store_is_not_quoted_beside_a_real_answer() -> None:
    # "This policy is intended to help you answer these questions:" before a table of contents the ingest drops as
    # navigation: quoted, the answer would end on a colon with nothing after it
    parts = ["Updated: April 7, 2020. We care about your privacy.", "This policy answers these questions:"]
    raw = " ".join(parts)
    chunk = _item("c0", ("Intro",), 0, raw)
    date = Sentence(ScoredChunk(chunk, 0.9), 0, len(parts[0]), parts[0], score=0.9)
    intro = Sentence(ScoredChunk(chunk, 0.9), raw.index(parts[1]), len(raw), parts[1], score=0.8)

    assert complete_lists([date, intro], {}, {"acme": raw}) == [date]
    assert complete_lists([intro], {}, {"acme": raw}) == [intro]  # alone, it is what there is to show
