"""Sentence-level evidence: split retrieved clauses into sentences, score each against the question, and judge
whether the best evidence actually answers what is asked (the asked attribute: a period, a name, an e-mail...)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from clausewise.embedding import Embedder
from clausewise.language import asked_kind
from clausewise.text import CJK, normalize_ws, sentence_spans
from clausewise.types import Chunk, ScoredChunk
from rag.lexical import STOPWORD_STEMS, mentioned, tokenize

# Words that say little about what is asked in a privacy question: they count, but only GENERIC_WEIGHT as much, and
# a policy that never uses them is not missing anything asked. Besides the privacy words every policy uses, the words
# that give the form of the question or of its answer ("What *type* of …", "… *If yes*, how?", "in what *ways* …")
# and the channel the service comes through ("on your *website*"): a question whose topic words are all of these
# asks about what every policy covers, not about a detail the policy might lack.
GENERIC = frozenset(tokenize(
    "information data personal collect use service services user users inform give get "
    "type types kind kinds sort sorts way ways yes whether actually really "
    "website websites site sites web app apps application applications platform platforms", keep_stopwords=True))

# Sentence-scoring weights: chosen by cross-validated citation precision over the seed, written and PolicyQA tuning
# sets (docs/evaluation.md); the clause's retrieval score counts most. Whether the best sentence answers at all is
# decided in rag/answerability.py.
WEIGHT_DENSE, WEIGHT_LEXICAL, WEIGHT_RETRIEVAL = 0.25, 0.25, 0.50
GENERIC_WEIGHT = 0.5  # weight of a generic question word ("information", "data") in the lexical match
ATTRIBUTE_RATIO = 0.7  # a sentence carrying the asked kind of value (an e-mail for "which e-mail...") goes first
# when it scores at least this share of the best one
MAX_SENTENCES = 4  # most sentences quoted per vendor (a sentence ending in a colon may bring one more)
COMPANION_RATIO = 0.95  # a sentence of another clause must score at least this share of the best one to be quoted too
SAME_CLAUSE_RATIO = 0.75  # a further sentence of the best sentence's own clause needs this share
CJK_COMPANION_RATIO = 0.97  # Chinese sentences look alike to the (English) embedding model: be stricter
MAX_LIST_ITEMS = 12  # most items of a list quoted when a chosen sentence introduces one ("... in the following cases:")
COMPANION_GAP = 4  # characters: a companion from another section must come from the clause right before or after


@dataclass(frozen=True)
class Sentence:
    """One sentence of a retrieved clause, with offsets into the original file."""

    scored: ScoredChunk
    start: int
    end: int
    text: str
    score: float = 0.0
    dense: float = 0.0
    coverage: float = 0.0


def content_tokens(question: str, vendor_tokens: set[str]) -> list[str]:
    """The question's words that say what is asked: no generic privacy words, vendor names or bare numbers."""
    return [t for t in dict.fromkeys(tokenize(question)) if t not in GENERIC and t not in vendor_tokens and not t.isdigit()]


# Verbs a question is phrased with that say nothing of its topic ("Which vendors let me …", "What happens to …",
# "Which policies mention …", "Can I ask Acme to …"): a policy without them is not missing anything the reader asked about.
_PHRASING_VERBS = frozenset(t for w in ("let", "lets", "happen", "happens", "want", "need", "know", "think", "mean",
                                        "mention", "explain", "describe", "talk", "ask", "tell", "say") for t in tokenize(w))


_QUESTION_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*")  # a word of a question as the user spelled it


def words_absent_from(question: str, vendor_tokens: set[str], policy_tokens: frozenset[str] | set[str]) -> list[str]:
    """The question's content words (as the question spells them) that the policy never uses, in any inflection or
    as any synonym of the table: what a reader would find missing with the browser's search ("sell" in a policy
    that never mentions selling). Inflections of stopwords ("others", "vendors") and Chinese runs (their tokens are
    character pairs, not words) are left out."""
    asked = set(content_tokens(question, vendor_tokens))
    absent = []
    for match in _QUESTION_WORD.finditer(question):
        stems = tokenize(match.group())
        if len(stems) != 1 or stems[0] not in asked or stems[0] in STOPWORD_STEMS or stems[0] in _PHRASING_VERBS:
            continue
        stem = stems[0]
        asked.discard(stem)  # each word once
        if not mentioned(stem, policy_tokens):
            absent.append(match.group())
    return absent


_WORD_NUMBERS = {w: n for n, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
    "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"))}
_WORD_NUMBERS |= {"thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90, "hundred": 100}
_NUMBER_WORDS = "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True))  # longest first: "forty-five" before "forty"
# A count before its unit: "30 days", "thirty (30) calendar days", "2-year" (the number is group 1).
_COUNT = rf"\b(\d+|{_NUMBER_WORDS})\)?[\s-]+(?:\w+\s+)?"
_QUANTITY = re.compile(rf"(?i){_COUNT}(hour|day|week|month|year)s?\b(?![\s-]*old)")


def _quantity(number: str, unit: str) -> tuple[int, str]:
    return int(number) if number.isdigit() else _WORD_NUMBERS[number.lower()], unit.lower()


def quantities_absent(question: str, policy_text: str) -> list[str]:
    """The periods the question states ("for 10 years", "within thirty days") that the policy never states, in digits
    or words: a premise the policy does not support ("Why does Acme keep my data for 10 years?")."""
    stated = {_quantity(*found) for found in _QUANTITY.findall(policy_text)}
    return [m.group(0) for m in _QUANTITY.finditer(question) if _quantity(m.group(1), m.group(2)) not in stated]


# A name the question gives: a run of capitalised words or an acronym ("OpenAI", "Standard Contractual Clauses",
# "SOC 2", "Do Not Track"), not the question's first word.
_NAME = re.compile(r"\b[A-Z][\w&+-]*(?:\s+(?:of\s+|and\s+)?[A-Z][\w&+-]*)*")
_TITLE_CASE_SHARE = 0.6  # a question this capitalised ("How Long Does Acme Keep Data?") names nothing by capitals


@lru_cache(maxsize=16)
def _normalised(policy_text: str) -> tuple[str, str]:
    """A vendor's whole text with whitespace normalised, as written and lowercased; once per text (the engine passes
    the same string each time)."""
    text = normalize_ws(policy_text)
    return text, text.lower()


def names_absent(question: str, policy_text: str, vendor_tokens: set[str]) -> list[str]:
    """The names an English question gives (vendor names and generic words aside) that the policy never mentions: a
    company, product, law or standard the policy says nothing of ("Does Acme send my data to OpenAI?")."""
    words = [w for w in _QUESTION_WORD.findall(question)[1:] if not set(tokenize(w)) & vendor_tokens]
    if sum(w[0].isupper() for w in words) > _TITLE_CASE_SHARE * len(words):
        return []
    policy, lowered = _normalised(policy_text)
    absent = []
    for match in _NAME.finditer(question):
        if not question[: match.start()].strip() or question[: match.start()].rstrip()[-1] in ".?!:\"“(":
            continue  # a sentence's first word is capitalised whatever it is
        words = match.group().split()
        while words and (words[-1] in ("of", "and") or set(tokenize(words[-1])) & vendor_tokens):
            words.pop()  # "the Privacy Officer of Acme": the officer, not a name with the vendor's in it
        # a plural acronym ("IDs", "URLs") is a common noun, not a name
        named = [w for w in words if (t := tokenize(w)) and not set(t) & (vendor_tokens | GENERIC)
                 and not re.fullmatch(r"[A-Z]{2,}s", w)]
        # absent only when no word of it is in the policy: "Facebook Messenger" where the policy speaks of Facebook is
        # the same thing named more exactly
        if named and not any(_name_in(w, policy, lowered) for w in named):
            absent.append(" ".join(words))
    return absent


# Privacy acronyms whose long form policies often write in lower case ("browsers that send a do not track signal")
_SPELLED_OUT = {"DNT": "do not track", "PII": "personally identifiable information", "SSN": "social security number",
                "IP": "internet protocol"}


def _name_in(word: str, policy: str, lowered: str) -> bool:
    """Whether the policy (whitespace normalised; and lowercased) uses a word of a name, or spells out an acronym:
    "CCPA" where it says "California Consumer Privacy Act" (capitalised initials in order), "DNT" for "do not track"."""
    if re.search(rf"(?<!\w){re.escape(word.lower())}(?!\w)", lowered):
        return True
    if not re.fullmatch(r"[A-Z]{2,6}", word):
        return False
    if word in _SPELLED_OUT and _SPELLED_OUT[word] in lowered:
        return True
    # three letters at least: two capitals in a row ("International Privacy") are too often a coincidence
    initials = r"[\w'’-]*\s+".join(re.escape(letter) for letter in word)
    return len(word) >= 3 and bool(re.search(rf"(?<!\w){initials}[\w'’-]*", policy))


def rarest_terms(q_tokens: list[str], idf: dict[str, float], n: int) -> list[str]:
    """The question's n rarest content words: a word the store never contains (not a Chinese character pair) first,
    then by idf."""
    unknown = [t for t in q_tokens if t not in idf and not t.isdigit() and not CJK.match(t)]
    return (unknown + sorted((t for t in q_tokens if t in idf), key=lambda t: -idf[t]))[:n]


def without_word(question: str, stem: str) -> str:
    """`question` with every word whose stem is `stem` left out."""
    return _QUESTION_WORD.sub(lambda m: "" if tokenize(m.group()) == [stem] else m.group(), question)


def _weight(token: str, idf: dict[str, float]) -> float:
    if token in idf:
        return idf[token]
    # a Chinese character pair the store never contains is a cut across two words ("息多"), not a topic
    return 0.0 if CJK.match(token) else max(idf.values(), default=1.0)


def coverage(
    question_tokens: list[str], text: str, idf: dict[str, float], generic: list[str] = (), context: str = ""
) -> float:
    """IDF-weighted share of question tokens present in `text` (a synonym counts as present). `generic` tokens
    count GENERIC_WEIGHT as much and only in `text`; the others may also be found in `context` (the headings)."""
    present = set(tokenize(text))
    return token_coverage(((question_tokens, 1.0, present | set(tokenize(context))), (generic, GENERIC_WEIGHT, present)), idf)


def token_coverage(groups, idf: dict[str, float]) -> float:
    """IDF-weighted share of tokens found: `groups` holds (tokens, weight factor, set of tokens to find them in)."""
    total = hit = 0.0
    for tokens, factor, found in groups:
        for token in tokens:
            weight = _weight(token, idf) * factor
            total += weight
            if mentioned(token, found):
                hit += weight
    return hit / total if total else 1.0


def split_sentences(scored: list[ScoredChunk], raw_texts: dict[str, str]) -> list[Sentence]:
    sentences = []
    for item in scored:
        raw = raw_texts.get(item.chunk.doc_id, "")
        for start, end in sentence_spans(raw, item.chunk.start, item.chunk.end) if raw else []:
            text = normalize_ws(raw[start:end])
            if len(text) >= 3:
                sentences.append(Sentence(item, start, end, text))
    return sentences


def score_sentences(
    question: str, sentences: list[Sentence], embedder: Embedder, idf: dict[str, float], vendor_tokens: set[str],
    similarity_scale: Callable[[np.ndarray], np.ndarray] | None = None, translated: Sequence[str] = (),
) -> list[Sentence]:
    """Sentences sorted by a blend of embedding similarity, lexical coverage and clause retrieval score.
    `similarity_scale` maps the embedder's similarities onto the scale the weights were fitted on (across languages).
    `translated`: across languages, the English words the glossary gives for the question's concepts; the lexical
    match then reads them and the question's words the store knows ("Cookies", "GPS"), not words no policy uses."""
    if not sentences:
        return []
    vectors = embedder.embed([question] + [s.text for s in sentences])
    sims = vectors[1:] @ vectors[0]
    if similarity_scale is not None:
        sims = similarity_scale(sims)
    q_tokens = content_tokens(question, vendor_tokens)
    if translated:
        q_tokens = list(dict.fromkeys([t for t in q_tokens if t in idf] + [t for w in translated for t in tokenize(w)]))
    generic = [t for t in dict.fromkeys(tokenize(question)) if t in GENERIC]
    kind = asked_attribute(question)
    scored = []
    for sentence, sim in zip(sentences, sims, strict=True):
        heading = " ".join(sentence.scored.chunk.section_path)
        lexical = coverage(q_tokens, sentence.text, idf, generic, context=heading)
        clause_cov = coverage(q_tokens, sentence.scored.chunk.embed_text, idf)
        score = WEIGHT_DENSE * float(sim) + WEIGHT_LEXICAL * lexical + WEIGHT_RETRIEVAL * sentence.scored.hybrid_score
        scored.append(Sentence(**{**sentence.__dict__, "score": score, "dense": float(sim), "coverage": clause_cov}))
    scored.sort(key=lambda s: -s.score)
    if kind:
        # "which e-mail address...": the best sentence that gives one leads, unless it is much weaker
        floor = scored[0].score * ATTRIBUTE_RATIO
        scored.sort(key=lambda s: not (s.score >= floor and has_attribute(kind, s.text, question)))
    return scored


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
# a phone number has at least three digit groups ("+1 (612) 555-0100", "020 7946 0958"); a ZIP+4 code does not
_PHONE = re.compile(r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)|\b\d{1,4})[\s.-]\d{3,4}[\s.-]\d{3,4}\b")
_STREET = re.compile(r"\b\d+\s+(?:[A-Z0-9][\w.]*\s+){0,4}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Drive|Suite|Floor)\b")
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATE = re.compile(rf"\b(?:{_MONTHS})\s+\d{{1,2}},?\s+\d{{4}}\b|\b\d{{1,2}}\s+(?:{_MONTHS})\s+\d{{4}}\b|\b\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}\b|"
                   r"\b\d{1,2}/\d{1,2}/\d{2,4}\b|\d{4}年\d{1,2}月")
_PRICE = re.compile(r"[$€£¥]\s?\d|\b\d+(?:\.\d+)?\s?(?:USD|EUR|GBP|dollars?|euros?)\b", re.I)
# a company named by its legal form or a well-known brand written as one capitalised word ("Stripe, Inc.", "Google")
_ORGANISATION = re.compile(r"\b[A-Z][\w&.-]+(?:\s+[A-Z][\w&.-]+)*,?\s+(?:Inc|LLC|Ltd|GmbH|Corp|Corporation|Limited|S\.A)\b\.?|"
                           r"\b(?:Google|Amazon|Microsoft|Meta|Facebook|Stripe|PayPal|Twilio|Salesforce|Apple|Cloudflare)\b")
_URL = re.compile(r"https?://\S+|\bwww\.\S+")
_NUMBER = re.compile(rf"\d|\b(?:{_NUMBER_WORDS})\b", re.I)
_JURISDICTION = re.compile(r"(?i)\bgovern(?:ed|s|ing)?\s+by\b|\bgoverning law\b|\bjurisdiction\b|\bcourts? of\b|\blaws of (?:the )?[A-Z]")
_TIMEFRAME = re.compile(
    r"(?i)\bwithin\b|\b(?:business |calendar )?(?:days?|weeks?|months?|hours?)\b|\bpromptly\b|\bimmediately\b|\bwithout (?:undue )?delay\b|"
    r"\btime ?frame\b|\bas soon as\b"
)
# How long something lasts: a number of days / months / years, or a period bounded by an event ("for as long as your
# account is active", "until you delete them", "no longer than necessary", "indefinitely").
_DURATION = re.compile(
    rf"(?i){_COUNT}(?:hours?|days?|weeks?|months?|years?)\b|\bas long as\b|"
    r"\bno longer than\b|\buntil\b|\bfor the (?:duration|life|lifetime|length|term) of\b|\bindefinite(?:ly)?\b|\bpermanent(?:ly)?\b|"
    r"\bfor a (?:limited |certain |reasonable )?period\b|"
    r"\d+\s*(?:个)?(?:小时|天|日|周|星期|月|年)|只要|直到|期间|永久"  # the same in Chinese ("只要您还在使用我们的服务": as long as)
)
# An encryption method named ("AES-256", "TLS", "encrypted in transit and at rest"), not encryption in general.
_ENCRYPTION = re.compile(
    r"(?i)\b(?:AES|TLS|SSL|RSA|SHA-?\d+|HTTPS|PGP|GPG|\d{3}-bit|end-to-end)\b|"
    r"\bencrypt\w*\b.{0,40}\b(?:at rest|in transit)\b|\b(?:at rest|in transit)\b.{0,40}\bencrypt\w*"
)
# What a transfer of data abroad rests on: contractual clauses, corporate rules, an adequacy decision, a certification
# framework, or the user's consent.
_TRANSFER_MECHANISM = re.compile(
    r"(?i)standard contractual clauses|\bSCCs?\b|model clauses|binding corporate rules|\bBCRs?\b|adequacy decision|"
    r"privacy shield|data privacy framework|\bDPF\b|\bconsent"
)
# A law named by its title ("... Privacy Act", "Civil Code §", "... Regulation") or a well-known privacy-law acronym.
_LAW_NAME = re.compile(
    r"\b(?:[A-Z][a-z]+\s+){1,6}(?:Act|Code|Regulation|Directive|Ordinance|Statute)\b|\bCode\s+§|§\s*\d|"
    r"\b(?:GDPR|UK GDPR|CCPA|CPRA|COPPA|HIPAA|PIPEDA|LGPD|PIPL|PDPA|APPI|VCDPA|CDPA|CPA|CTDPA|UCPA|FERPA|GLBA|CAN-SPAM|CalOPPA|DPA|ePrivacy)\b"
)
_NOT_NAMES = frozenset(
    ["privacy", "officer", "data", "protection", "policy", "personal", "information", "services", "service", "company", "terms", "united", "states", "european", "general", "regulation", "california", "consumer", "act", "civil", "code", "our", "the", "we", "you", "if", "for", "contact", "us", "attn", "help", "center", "customer", "support", "team", "department"]
)


# What a question asks for: the first kind whose patterns ALL match the lower-cased question.
_ASKED_KINDS = [
    ("email", (r"\be-?mail address\b|\b(what|which)\s+(\w+['’]?s?\s+){0,3}e-?mail\b", r"\b(what|which|give|where)\b")),
    ("price", (r"\bhow much does\b.*\bcost\b|\bwhat (is the )?(price|fee)\b|\bcost of\b",)),
    ("number", (r"\bhow many\b|\bhow much\b(?! (information|data|detail|details|personal|of)\b)|\bwhat percentage\b|"
                r"\bnumber of (days|months|years)\b",)),
    ("name", (r"\b(name of|who(['’]s|\s+is|\s+are)|named)\b",
              r"\b(officer|dpo|person|representative|ceo|founder|owner|president|director|chief)\b")),
    ("url", (r"\b(web ?address|urls?|website address)\b", r"\b(what|which|where|give)\b")),
    ("jurisdiction", (r"\bgovern(s|ing|ed)?\b|\bjurisdiction\b|\bwhich (country|state)['’]?s? laws?\b",)),
    ("timeframe", (r"\bhow (quickly|soon|fast)\b|\bwithin how\b|\bwhat (time ?frame|deadline)\b|\bhow long (does it|will it) take\b",)),
    ("duration", (r"\bhow long\b",)),
    ("encryption", (r"\b(what|which) (\w+ ){0,2}(encryption|cipher|cryptograph\w*)\b|"
                    r"\bencryption (standard|algorithm|method|protocol|level|strength)s?\b",)),
    ("mechanism", (r"\b(what|which) (\w+ ){0,3}(mechanism|safeguard|legal basis|legal ground)s?\b",
                   r"\b(transfer\w*|abroad|outside|overseas|international\w*|countr\w*|cross-border)\b")),
    ("law", (r"\b(which|what) (\w+ )?(laws|regulations|statutes|acts)\b|\blaws? (are |is )?(named|mentioned|cited|referenced)\b",)),
    ("phone", (r"\b(phone|telephone) number\b|\btelephone\b|\bwhat number (can|do|should) i call\b|\bcall (them|you)\b",)),
    ("date", (r"\b(effective|last updated|revision) date\b|\bwhen was (it|the policy|this policy) (last )?(updated|revised|changed)\b",)),
    # "Which (advertising) companies / payment processor / outside vendors …": the head of the wh-phrase names
    # organisations (no verb between: "what data do partners get" asks for data), not kinds of them ("what kinds of
    # service providers"), nor the company's own things ("the company's policy")
    ("organisation", (r"\b(which|what) ((?!(do|does|did|is|are|was|were|can|could|will|would|should|has|have)\b)[\w-]+ ){0,3}"
                      r"(compan(y|ies)|processors?|providers?|vendors?|firms?|partners?|products?|tools?)\b(?!['’]s)|"
                      r"\bname of the (\w+ ){0,2}(company|processor|provider)\b",
                      r"^(?!.*\b(kinds?|types?|categories|category|sorts?) of\b)")),
    ("contact", (r"\bcontact (information|info|details)\b|\bhow (can|do|should) i (contact|reach)\b|\bwho (can|do|should) i contact\b",)),
]
# An e-mail address, a phone number or contact details are also kinds of personal data. Named as the user's
# ("my phone number", "users' contact information") or as what the vendor does with data ("What contact information
# do you collect?"), they are a topic, not a value the vendor's policy must give. "Your" is not the user's: a question
# put to the company ("What is your e-mail address?") asks for the company's; "their" is the users' only where the
# question names users.
_DATA_KINDS = frozenset({"email", "phone", "contact", "url"})
_DATA_NOUN = r"(\w+\s+){0,2}(e-?mail|phone|telephone|contact|urls?|web ?address)"  # after a possessive
_USER_OWNED = re.compile(r"\b(my|users?['’]?s?|customers?['’]?s?|guests?['’]?s?|visitors?['’]?s?|people['’]s)\s+" + _DATA_NOUN)
_PROCESSING_VERB = re.compile(r"\b(\w+)\s+(collect|share|sell|store|keep|gather|obtain|disclose|access|read|upload|track|link|"
                              r"process|receive|retain|hold|save|transfer|ask for)(s|es|ed)?\b")
_THEIR_DATA = re.compile(r"\btheir\s+" + _DATA_NOUN)
_USERS = re.compile(r"\b(users?|customers?|guests?|visitors?|people|individuals|children|members)\b")


def _names_personal_data(question: str) -> bool:
    """Whether the question names an e-mail, phone or contact details as the user's data, not as the vendor's."""
    if _USER_OWNED.search(question):
        return True
    if _THEIR_DATA.search(question) and _USERS.search(question):  # "… let users control their contact info"
        return True
    return any(match.group(1) not in ("i", "to") for match in _PROCESSING_VERB.finditer(question))


def asked_attribute(question: str) -> str | None:
    """What kind of value the question asks for, when it asks for a specific one."""
    q = question.lower()
    for kind, patterns in _ASKED_KINDS:
        if all(re.search(pattern, q) for pattern in patterns):
            return None if kind in _DATA_KINDS and _names_personal_data(q) else kind
    return asked_kind(question)  # the same kinds asked in German, French, Spanish or Chinese


# the kinds of value one of a few patterns recognises
_VALUE_PATTERNS = {
    "email": (_EMAIL,), "jurisdiction": (_JURISDICTION,), "timeframe": (_TIMEFRAME,), "law": (_LAW_NAME,),
    "phone": (_PHONE,), "date": (_DATE,), "price": (_PRICE,), "contact": (_EMAIL, _PHONE, _STREET, _URL), "url": (_URL,),
    "duration": (_DURATION,), "encryption": (_ENCRYPTION,), "mechanism": (_TRANSFER_MECHANISM,),
}

ATTRIBUTE_NAMES = {"email": "e-mail address", "number": "number", "name": "name", "jurisdiction": "governing law",
                    "contact": "contact details", "timeframe": "time frame", "law": "named law", "phone": "phone number",
                    "date": "date", "price": "price", "organisation": "company name", "url": "web address",
                    "duration": "period of time", "encryption": "named encryption method",
                    "mechanism": "transfer mechanism"}


def has_attribute(kind: str, text: str, question: str = "") -> bool:
    """Whether `text` gives a value of the asked kind (see `asked_attribute`)."""
    if kind in _VALUE_PATTERNS:
        return any(pattern.search(text) for pattern in _VALUE_PATTERNS[kind])
    if kind == "number":
        unit = re.search(r"\bhow many (\w+?)s?\b", question.lower())
        if unit and unit.group(1) not in ("time", "way", "kind", "type"):
            # "how many days": a number of days, not any number ("section 16", "under 13")
            return bool(re.search(rf"(?i){_COUNT}{re.escape(unit.group(1))}s?\b", text))
        return bool(_NUMBER.search(text))
    if kind == "name":
        for match in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)+)", text):
            if not set(match.group(1).lower().split()) <= _NOT_NAMES:
                return True
        return False
    if kind == "organisation":
        return has_attribute("name", text) or bool(_ORGANISATION.search(text))
    return True


def idf_table(token_lists: list[list[str]]) -> dict[str, float]:
    """Inverse document frequency of every token over the store's chunks."""
    df: dict[str, int] = {}
    for tokens in token_lists:
        for token in set(tokens):
            df[token] = df.get(token, 0) + 1
    n = max(1, len(token_lists))
    return {t: math.log(1 + n / c) for t, c in df.items()}


def _related(a: Sentence, b: Sentence) -> bool:
    """Same document and either the same top-level section or neighbouring clauses (nothing but a line between)."""
    ca, cb = a.scored.chunk, b.scored.chunk
    if ca.doc_id != cb.doc_id:
        return False
    if ca.section_path[:1] and ca.section_path[:1] == cb.section_path[:1]:
        return True
    return 0 <= cb.start - ca.end <= COMPANION_GAP or 0 <= ca.start - cb.end <= COMPANION_GAP


def pick_sentences(ranked: list[Sentence], limit: int | None = None) -> list[Sentence]:
    """The best sentence plus close runners-up, in document order.

    A runner-up from the best sentence's own clause needs SAME_CLAUSE_RATIO of its score; one from another clause
    needs COMPANION_RATIO (CJK_COMPANION_RATIO for Chinese) and must share its section or neighbour its clause. A chosen
    sentence that ends with a colon ("contact us at:") brings the sentence it introduces.
    """
    if not ranked:
        return []
    limit = limit or MAX_SENTENCES
    best = ranked[0]
    clause = best.scored.chunk.clause_id
    chosen = [best]
    for s in ranked[1:]:
        if len(chosen) >= limit:
            break
        if s.scored.chunk.clause_id == clause:
            ratio = SAME_CLAUSE_RATIO
        elif not _related(best, s):
            continue
        else:
            ratio = CJK_COMPANION_RATIO if CJK.search(s.text) else COMPANION_RATIO
        if s.score >= best.score * ratio:
            chosen.append(s)
    by_position = sorted(ranked, key=lambda s: (s.scored.chunk.doc_id, s.start))
    for s in list(chosen):
        if s.text.rstrip().endswith((":", "：")):
            following = next((n for n in by_position if n.scored.chunk.doc_id == s.scored.chunk.doc_id and n.start >= s.end), None)
            if following is not None and following not in chosen and following.start - s.end <= 200:
                chosen.append(following)
    return sorted(chosen, key=lambda s: (s.scored.chunk.doc_id, s.start))


# A list item: a bullet, "1." / "(a)", or a short capitalised label followed by a colon ("Service Providers: ...").
_LIST_ITEM = re.compile(r"^\s*(?:[•●▪◦·*–-]\s|\(?\d{1,2}[.)]\s|\(?[a-z][.)]\s|[A-Z][\w ,'’&/()-]{1,60}:\s)")
_INTRODUCES_LIST = re.compile(r"[:：]\s*(?:[•●▪◦·*–-]\s.*)?$|[:：]\s*[•●▪◦·*–-]\s", re.S)


_ITEM_LABEL = re.compile(r"^\s*([A-Z][\w ,'’&/()-]{1,60})[:：]\s")
_BULLET = re.compile(r"(?:^|\s)[•●▪◦·*–-]\s")


def _label(text: str) -> set[str]:
    """The words of the list items' labels in a sentence ("• Account Information: ..." -> {"account"}), generic
    words left out."""
    labels = (_ITEM_LABEL.match(piece) for piece in _BULLET.split(text)[1:] or [text])
    return {t for m in labels if m for t in tokenize(m.group(1))} - GENERIC


def complete_lists(chosen: list[Sentence], following: dict[str, Chunk], raw_texts: dict[str, str],
                   question_tokens: set[str] = frozenset()) -> list[Sentence]:
    """`chosen` plus the whole list a chosen sentence introduces ("... except in the following cases:"): the first
    sentence of every list item that follows in the same section (a nested list under an item comes with it). When
    the question names an item's label ("... when you create an account" and "Account Information: ..."), only the
    items so labelled are quoted."""
    if not chosen:
        return chosen
    have = {(s.scored.chunk.doc_id, s.start) for s in chosen}
    extra: list[Sentence] = []
    for sentence in chosen:
        if not _INTRODUCES_LIST.search(sentence.text):
            continue
        chunk = sentence.scored.chunk
        raw = raw_texts.get(chunk.doc_id, "")
        items = 0
        while (chunk := following.get(chunk.chunk_id)) is not None and items < MAX_LIST_ITEMS:
            if chunk.section_path != sentence.scored.chunk.section_path or not _LIST_ITEM.match(chunk.text):
                break
            items += 1
            item = replace(sentence.scored, chunk=chunk, lexical=0.0)
            spans = sentence_spans(raw, chunk.start, chunk.end) if raw else []
            # an item's first sentence; all of it when that sentence introduces a nested list ("... necessary to:")
            nested = bool(spans) and normalize_ws(raw[spans[0][0] : spans[0][1]]).endswith(":")
            for start, end in spans if nested else spans[:1]:
                if (chunk.doc_id, start) not in have:
                    have.add((chunk.doc_id, start))
                    extra.append(Sentence(item, start, end, normalize_ws(raw[start:end])))
    quoted = chosen + extra
    if question_tokens and any((label := _label(s.text)) and label <= question_tokens for s in quoted):
        # the item the question names by its whole label ("... account information?" and "Account Information: ...")
        # answers alone; its differently labelled siblings are not quoted with it. A label the question only shares a
        # word with ("does it know where I am?" and "Right to Know: ...") names nothing: the whole list is quoted.
        quoted = [s for s in quoted if not (label := _label(s.text)) or label <= question_tokens]
    return sorted(quoted, key=lambda s: (s.scored.chunk.doc_id, s.start))
